"""The output projection ``y_i = W_O · [c_i^1; …; c_i^H] + b_O`` behind the engine.

Golden: :func:`attnhw.golden.out_proj.project` (every rounding), with the load word
order of :func:`attnhw.golden.out_proj.load_words`.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from attnhw.golden.errors import InputError

from .credits import credit_room
from .engine import engine_out_layout
from .multiplier import Multiplier
from .pipeline import delay
from .block_ram import BlockRAM
from .replicate import register_copies, register_tree
from .proj_loader import ProjLoader, load_layout
from .proj_rows import ProjRowBuffers, row_meta_layout
from .requantiser import SHIFT_BITS, Requantiser

__all__ = ["OutProjection", "check_projection", "load_layout", "y_layout"]


def check_projection(op):
    """``InputError`` (a ``ValueError``) unless :class:`OutProjection` can be built for
    the projection ``op``: the limits of the load format it implements
    (:meth:`attnhw.golden.out_proj.ProjParams.check_load_format`), checked where the
    gateware is built."""
    op.check_load_format()


def y_layout(op):
    """Output beat: ``lanes`` outputs ``s(out_width).0`` of one group, ``row_last`` on a
    row's final group, ``last`` on the final beat of a tile's final row."""
    return data.StructLayout({"y": data.ArrayLayout(signed(op.out_width), op.lanes),
                              "row_last": 1, "last": 1})


class OutProjection(wiring.Component):
    """The layer's output projection over the engine's rows, ``lanes`` outputs at once.

    Rows arrive as the engine emits them (``c``: ``params.lanes`` elements per beat,
    ``row_last``, and ``last`` at the end of an engine head). The engine's heads are
    ``(tile, head)`` pairs: the queries of a layer pass in tiles of at most
    ``tile_rows`` (:func:`attnhw.golden.out_proj.tile_bounds`), each tile once per
    head ``h = 0 … heads − 1``, every pass of a tile with the same rows. The unit
    holds ``tile_rows × d_out`` partial sums (``acc_width`` bits each, block RAM):
    head 0 starts each from the bias, the final head's rows leave requantised.

    Per row it reads the row into one of two row buffers and then, for each group of
    ``lanes`` outputs, multiplies its ``head_dim`` elements one per cycle by the
    group's weights (``lanes`` multipliers, weights in block RAM at
    ``g·K + h·head_dim + j``); a row takes :attr:`row_cycles` cycles. The final
    head's sums pass through :attr:`requantisers` shared requantisers, one sum per
    cycle each. Nothing inside stalls: a group of the final head starts only with a
    credit for its place in the output FIFO.

    Members
    -------
    c : ``In(stream.Signature(engine_out_layout(params)))``
    load : ``In(stream.Signature(load_layout()))``
        The integers as :func:`attnhw.golden.out_proj.load_words` orders them, one
        word per beat, ``last`` on the final word; always ready. Load before the rows
        that use them (a load while rows pass changes the weights under them).
    y : ``Out(stream.Signature(y_layout(proj)))``
        ``d_out / lanes`` beats per query row, the tile's rows in order.
    err_tile_rows : ``Out(1)``
        Sticky: a tile had more than ``tile_rows`` rows (its partial sums wrapped).
    err_load_last : ``Out(1)``
        Sticky: ``last`` was not on the final load word, or missing there; the load
        restarts after the beat that carried it.
    clear_errors : ``In(1)``
    """

    #: Stage (cycles after an issue) at which the partial sums' read address enters
    #: their block RAMs (the weights' enters at the issue): both words leave the
    #: RAMs (:attr:`BlockRAM.LATENCY`) as the product and the sum need them.
    partial_read_stage = 2
    #: The stage at which a group's finished sums sit in the accumulators (and its
    #: partial sums are written back).
    write_stage = 8
    #: Cycles a partial sum's read keeps after its write: 3, above the block RAM's
    #: :attr:`BlockRAM.READ_AFTER_WRITE`, the margin this unit was designed and
    #: verified with.
    PARTIAL_MARGIN = 3
    #: A requantiser's stages (:attr:`Requantiser.latency`).
    requant_stages = Requantiser.latency

    def __init__(self, params, proj):
        check_projection(proj)
        if (params.out_width, params.head_dim) != (proj.data_width, proj.head_dim):
            raise InputError("the projection's data_width and head_dim must be the engine's "
                             "out_width and head_dim")
        self.params, self.proj = params, proj
        super().__init__({
            "c": In(stream.Signature(engine_out_layout(params))),
            "load": In(stream.Signature(load_layout())),
            "y": Out(stream.Signature(y_layout(proj))),
            "err_tile_rows": Out(1), "err_load_last": Out(1), "clear_errors": In(1),
        })

    @property
    def requantisers(self):
        """Requantisers shared by the lanes: the fewest that keep pace. A group's sums
        finish at most once per ``head_dim`` cycles, and each requantiser takes its
        ``lanes / requantisers`` sums one per cycle."""
        P, d = self.proj.lanes, self.proj.head_dim
        return next(r for r in range(1, P + 1) if P % r == 0 and P // r <= d)

    @property
    def pipeline_depth(self):
        """Cycles from a group's last issue to its outputs entering the FIFO: the
        sums at :attr:`write_stage`, one cycle per sum a requantiser takes, its
        :attr:`requant_stages`, and the collecting register."""
        return (self.write_stage + self.proj.lanes // self.requantisers
                + self.requant_stages + 1)

    @property
    def needs_drain(self):
        """A group's partial sums are written back :attr:`write_stage` cycles after its
        last issue; a row that starts right behind the previous one reads them (same
        tile row, one head on, in a tile of one row) :attr:`partial_read_stage` cycles
        after its first issue, ``(groups − 1)·head_dim + 1`` cycles after that last
        one: too early when that is less than :attr:`PARTIAL_MARGIN` cycles after the
        write (few output groups, or tiny heads). Then each row waits
        ``write_stage + 1`` cycles."""
        return ((self.proj.groups - 1) * self.proj.head_dim + 1 + self.partial_read_stage
                < self.write_stage + self.PARTIAL_MARGIN)

    @property
    def row_cycles(self):
        """Cycles per row when rows wait: ``groups · head_dim`` issues, back to back
        (plus the write-back drain where :attr:`needs_drain`)."""
        return self.proj.groups * self.proj.head_dim + (
            self.write_stage + 1 if self.needs_drain else 0)

    @property
    def out_fifo_depth(self):
        """Places in the output FIFO. A final group reserves its place at its first
        issue, and its outputs enter the FIFO ``head_dim - 1 + pipeline_depth`` cycles
        later, so with the reader always ready ``ceil((head_dim + pipeline_depth) /
        head_dim)`` places are reserved at once; :func:`credit_room` adds one place for
        the reservation in its register and one for the freed place counted a cycle
        late. At least 8, so that a reader's short stalls do not stop the issue."""
        d = self.proj.head_dim
        return max(8, -(-(d + self.pipeline_depth) // d) + 2)

    def elaborate(self, platform):
        m = Module()
        op = self.proj
        mems = self._memories(m)
        loader = self._loader(m, mems)
        # --- Rows in: two row buffers, one filling while the other's row is issued.
        m.submodules.rows = rows = ProjRowBuffers(self.params, op)
        wiring.connect(m, wiring.flipped(self.c), rows.c)
        m.d.comb += [self.err_tile_rows.eq(rows.err_tile_rows),
                     rows.clear_errors.eq(self.clear_errors)]
        m.submodules.out_fifo = fifo = SyncFIFOBuffered(width=y_layout(op).size,
                                                        depth=self.out_fifo_depth)
        ctl, j, rsel, gL = self._issue(m, rows, mems, fifo)
        elems = self._elements(m, rows.rows, j, rsel)
        acc = self._accumulate(m, mems, loader, elems, ctl)
        word_valid, word = self._requantise(m, mems, acc, ctl, gL)
        # A final group's outputs into the FIFO (its place was reserved).
        m.d.comb += [fifo.w_en.eq(word_valid), fifo.w_data.eq(word),
                     self.y.valid.eq(fifo.r_rdy), self.y.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.y.ready)]
        return m

    def _memories(self, m):
        """The block RAMs: ``weights`` and ``partial`` sums per lane, and each
        requantiser's ``constants``."""
        op = self.proj
        P, G, K, T, L = op.lanes, op.groups, op.k, op.tile_rows, op.lanes // self.requantisers
        # Weights and partial sums in one block RAM per lane (registered reads, each
        # with its own address copy): the lane's block RAMs, multiplier and adders can
        # sit together, instead of one wide word muxed from block RAMs over the die.
        mems = {"weights": [BlockRAM(op.weight_width, G * K) for _ in range(P)],
                # A lane's partial sums at t·G + g, its biases after them at T·G + g:
                # head 0 reads its start there, the other heads their tile's partial sums.
                "partial": [BlockRAM(op.acc_width, (T + 1) * G) for _ in range(P)],
                # Each requantiser's constants in its own block RAM, in the order it
                # takes its sums (lane r·L + i of group g at g·L + i): read one per
                # cycle beside it.
                "constants": [BlockRAM(self._const_layout.size, G * L)
                              for _ in range(self.requantisers)]}
        for name, rams in mems.items():
            for n, ram in enumerate(rams):
                m.submodules[f"{name}{n}"] = ram
        return mems

    @property
    def _const_layout(self):
        return data.StructLayout({"M": unsigned(self.proj.mult_bits),
                                  "sh": unsigned(SHIFT_BITS)})

    def _loader(self, m, mems):
        """The load port writes the weights, the constants and (through the partial
        sums' write ports, in :meth:`_accumulate`) the biases."""
        op = self.proj
        m.submodules.loader = loader = ProjLoader(op, self.requantisers)
        wiring.connect(m, wiring.flipped(self.load), loader.load)
        m.d.comb += [self.err_load_last.eq(loader.err_load_last),
                     loader.clear_errors.eq(self.clear_errors)]
        for e, ram in enumerate(mems["weights"]):
            m.d.comb += [ram.w_addr.eq(loader.weights.addr), ram.w_en.eq(loader.weights.en),
                         ram.w_data.eq(loader.weights.data[e * op.weight_width:]
                                       [:op.weight_width])]
        for r, ram in enumerate(mems["constants"]):
            c = loader.constants[r]
            c_word = Signal(self._const_layout, name=f"const_word{r}")
            m.d.comb += [c_word.M.eq(c.M), c_word.sh.eq(c.sh),
                         ram.w_addr.eq(c.addr), ram.w_data.eq(c_word), ram.w_en.eq(c.en)]
        return loader

    def _issue(self, m, rows, mems, fifo):
        """For each group g, j = 0 … d-1, one weight word and one element, from row
        buffer ``rsel``. One address register each for the weights and the partial
        sums; each lane's block RAMs take their own registered copy. Returns the
        control at each stage (``ctl[n]``: n cycles after the issue), ``j``, ``rsel``
        and ``gL`` (g·L, the group's constants' address)."""
        op = self.proj
        G, K, d, H, T = op.groups, op.k, op.head_dim, op.heads, op.tile_rows
        L = op.lanes // self.requantisers
        metas, full = rows.metas, rows.full
        rsel, busy, final, tile_last = Signal(), Signal(), Signal(), Signal()
        j, g = Signal(range(d)), Signal(range(G))
        gL = Signal(range(G * L))
        waddr, paddr = Signal(range(G * K)), Signal(range(T * G))
        praddr = Signal(range((T + 1) * G))      # the partial sums' read address
        reserve = Signal()
        room, _ = credit_room(m, self.out_fifo_depth, reserve, fifo.r_en & fifo.r_rdy, "y")
        issue = busy & ((j != 0) | ~final | room)
        m.d.comb += reserve.eq(issue & (j == 0) & final)
        group_end, row_end = j == d - 1, (j == d - 1) & (g == G - 1)
        done = issue & row_end

        cool = Signal(range(self.write_stage + 1))
        if self.needs_drain:
            with m.If(done):
                m.d.sync += cool.eq(self.write_stage)
            with m.Elif(cool != 0):
                m.d.sync += cool.eq(cool - 1)
        # The next row starts in its predecessor's last issue, or when the unit is idle
        # (and the write-back drained).
        nxt = Mux(busy, ~rsel, rsel)
        start_row = Mux(busy, done & ~Const(self.needs_drain) & full.bit_select(~rsel, 1),
                        full.bit_select(rsel, 1) & (cool == 0))
        meta = Signal(row_meta_layout(op))
        m.d.comb += meta.eq(Mux(nxt, metas[1], metas[0]))
        with m.If(issue):
            m.d.sync += [j.eq(Mux(group_end, 0, j + 1)),
                         waddr.eq(waddr + Mux(group_end, K - d + 1, 1))]
            with m.If(group_end):
                m.d.sync += [g.eq(g + 1), gL.eq(gL + L), paddr.eq(paddr + 1),
                             praddr.eq(praddr + 1)]
        with m.If(done):
            m.d.sync += [busy.eq(0), rsel.eq(~rsel)]
        m.d.comb += rows.free.eq(Mux(done, Mux(rsel, 0b10, 0b01), 0))
        # (These assignments come last so that they win over the issue's.)
        with m.If(start_row):
            m.d.sync += [busy.eq(1), final.eq(meta.h == H - 1),
                         tile_last.eq(meta.tile_last), j.eq(0), g.eq(0), gL.eq(0),
                         waddr.eq(meta.wbase), paddr.eq(meta.pbase),
                         praddr.eq(Mux(meta.h == 0, T * G, meta.pbase))]
        praddr_r = delay(m, 1, praddr, self.partial_read_stage, "praddr")
        for w_ram, p_ram in zip(mems["weights"], mems["partial"]):
            m.d.comb += [w_ram.r_addr.eq(waddr), p_ram.r_addr.eq(praddr_r)]
        # The issue's control travels beside the data: stage n is n cycles after issue.
        ctl_layout = data.StructLayout({"valid": 1, "first": 1, "last": 1, "final": 1,
                                        "row_last": 1, "tile_last": 1,
                                        "paddr": unsigned(len(paddr))})
        ctl0 = Signal(ctl_layout)
        m.d.comb += [ctl0.valid.eq(issue), ctl0.first.eq(j == 0), ctl0.last.eq(group_end),
                     ctl0.final.eq(final), ctl0.row_last.eq(g == G - 1),
                     ctl0.tile_last.eq(tile_last), ctl0.paddr.eq(paddr)]
        ctl = [ctl0]
        for n in range(1, self.write_stage + 1):
            reg = Signal(ctl_layout, name=f"ctl{n}")
            m.d.sync += reg.eq(ctl[-1])
            ctl.append(reg)
        return ctl, j, rsel, gL

    def _elements(self, m, bufs, j, rsel):
        """Element j of row buffer ``rsel`` at stage 5, one register copy per lane."""
        d, w = self.proj.head_dim, self.params.out_width       # elements s(w+f).f
        # The element, through a mux in two registered steps: within chunks of up to 4
        # (and the buffer: 8 to 1, one ECP5 slice pair) at stage 1, then the chunk at
        # stage 2; registered at 3. Each chunk's mux takes its own registered copy of
        # the select (j, rsel): one register driving every chunk was a long wire
        # (10.39 ns at one seed), and so were chunks of 8 (16 to 1, 8.93 ns).
        lo = min(2, len(j))
        n_chunks = -(-d // (1 << lo))
        j1 = register_copies(m, j, n_chunks, "j1")
        rsel1 = register_copies(m, rsel, n_chunks, "rsel1")
        chunks = []
        for c in range(n_chunks):
            cands = [bufs[b][i] if i < d else Const(0, signed(w))
                     for b in range(2) for i in range(c << lo, (c + 1) << lo)]
            chunk = Signal(signed(w), name=f"chunk{c}")
            m.d.sync += chunk.eq(Array(cands)[Cat(j1[c][:lo], rsel1[c])])
            chunks.append(chunk)
        elem = Signal(signed(w))                                              # stage 3
        if len(chunks) > 1:
            m.d.sync += elem.eq(Array(chunks)[delay(m, 1, j1[0][lo:], 1, "j_hi")])
        else:
            m.d.sync += elem.eq(chunks[0])
        return register_tree(m, elem, self.proj.lanes, "elem")     # stage 5, per lane

    def _accumulate(self, m, mems, loader, elems, ctl):
        """Stage 5: the weights and the elements meet at the multipliers; stage 7: the
        products and the sums' starts (partial sum or bias) at the accumulators, which
        hold a group's sums at stage 8 (:attr:`write_stage`), when a group that is not
        the final head's writes them back."""
        op = self.proj
        P, G, T = op.lanes, op.groups, op.tile_rows
        mul_stage = BlockRAM.LATENCY
        sum_stage = mul_stage + Multiplier.latency
        assert self.partial_read_stage + BlockRAM.LATENCY == sum_stage
        assert sum_stage + 1 == self.write_stage
        acc = Signal(data.ArrayLayout(signed(op.acc_width), P))                # stage 8
        for e in range(P):
            m.submodules[f"mul{e}"] = mul = Multiplier(signed(op.weight_width),
                                                       signed(self.params.out_width))
            m.d.comb += [mul.a.eq(mems["weights"][e].r_data), mul.b.eq(elems[e])]
            with m.If(ctl[sum_stage].valid):
                m.d.sync += acc[e].eq(Mux(ctl[sum_stage].first,
                                          mems["partial"][e].r_data.as_signed(), acc[e])
                                      + mul.p)
        back = ctl[self.write_stage]
        for e, p_wr in enumerate(mems["partial"]):
            # The load's biases share the port (a load and rows never overlap).
            bias = loader.biases[e]
            with m.If(bias.en):
                m.d.comb += [p_wr.w_addr.eq(T * G + bias.addr),
                             p_wr.w_data.eq(bias.data), p_wr.w_en.eq(1)]
            with m.Else():
                m.d.comb += [p_wr.w_addr.eq(back.paddr), p_wr.w_data.eq(acc[e]),
                             p_wr.w_en.eq(back.valid & back.last & ~back.final)]
        return acc

    def _requantise(self, m, mems, acc, ctl, gL):
        """Requantisation, shared: a final group's sums leave the accumulators into one
        shift register per requantiser, which hands it one sum per cycle; a second shift
        register collects the outputs. Returns the output word and its write enable."""
        op = self.proj
        G, R, aw = op.groups, self.requantisers, op.acc_width
        L = op.lanes // R
        back = ctl[self.write_stage]
        ser_layout = data.StructLayout({"valid": 1, "end": 1, "row_last": 1, "tile_last": 1})
        q_ser = [Signal(ser_layout, name=f"q_ser{i}") for i in range(L)]
        q = [[Signal(signed(aw), name=f"q{r}_{i}") for i in range(L)] for r in range(R)]
        with m.If(back.valid & back.last & back.final):
            for i in range(L):
                m.d.sync += [q_ser[i].valid.eq(1), q_ser[i].end.eq(i == L - 1),
                             q_ser[i].row_last.eq(back.row_last),
                             q_ser[i].tile_last.eq(back.tile_last)]
                for r in range(R):
                    m.d.sync += q[r][i].eq(acc[r * L + i])
        with m.Else():
            m.d.sync += [q_ser[i].eq(q_ser[i + 1]) for i in range(L - 1)]
            m.d.sync += q_ser[L - 1].eq(0)
            for r in range(R):
                m.d.sync += [q[r][i].eq(q[r][i + 1]) for i in range(L - 1)]
        # The constants' reads: sum i of a final group is at q[r][0] write_stage + 1 + i
        # cycles after the group's last issue, so its constants' address (g·L + i)
        # enters the RAMs BlockRAM.LATENCY cycles before: a counter loaded with g·L
        # the cycle before the first (stage `pre`) and counting up from there.
        pre = self.write_stage - BlockRAM.LATENCY
        assert pre >= 1
        c_addr = Signal(range(G * L))
        gL_pre = delay(m, 1, gL, pre, "gL")
        with m.If(ctl[pre].valid & ctl[pre].last & ctl[pre].final):
            m.d.sync += c_addr.eq(gL_pre)
        with m.Elif(c_addr != G * L - 1):
            m.d.sync += c_addr.eq(c_addr + 1)
        ser = delay(m, 1, q_ser[0], self.requant_stages, "ser")
        collected = []
        for r, ram in enumerate(mems["constants"]):
            m.d.comb += ram.r_addr.eq(c_addr)
            m.submodules[f"requant{r}"] = req = Requantiser(aw, op.mult_bits, op.out_width)
            cq = self._const_layout(ram.r_data)
            m.d.comb += [req.x.eq(q[r][0]), req.M.eq(cq.M), req.sh.eq(cq.sh)]
            coll = Signal(data.ArrayLayout(signed(op.out_width), L), name=f"collect{r}")
            m.d.sync += coll.eq(Cat(coll.as_value()[op.out_width:], req.y))
            collected.append(coll)
        out = delay(m, 1, ser, 1, "out")
        word = Signal(y_layout(op))
        m.d.comb += [word.y.as_value().eq(Cat(*collected)),       # output r·L + i
                     word.row_last.eq(out.row_last), word.last.eq(out.row_last & out.tile_last)]
        return out.valid & out.end, word
