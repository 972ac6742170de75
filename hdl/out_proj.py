"""The output projection ``y_i = W_O · [c_i^1; …; c_i^H] + b_O`` behind the engine.

Golden: :func:`attnhw.golden.out_proj.project` (every rounding), with the load word
order of :func:`attnhw.golden.out_proj.load_words`.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from attnhw.golden.out_proj import LOAD_WORD_BITS, SHIFT_LSB

from .credits import credit_room
from .engine import engine_out_layout
from .multiplier import Multiplier
from .pipeline import delay
from .replicate import KEEP

__all__ = ["OutProjection", "load_layout", "y_layout"]

SHIFT_BITS = 6          # sh <= max_shift = 62


def load_layout():
    """Load port beat: a 32-bit word and ``last`` on the final word of the sequence."""
    return data.StructLayout({"data": unsigned(LOAD_WORD_BITS), "last": 1})


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

    Per row it reads the row into a register and then, for each group of ``lanes``
    outputs, multiplies its ``head_dim`` elements one per cycle by the group's
    weights (``lanes`` multipliers, weights in block RAM at ``g·K + h·head_dim + j``);
    a row takes :attr:`row_cycles` cycles. Nothing inside stalls: a group of the
    final head starts only with a credit for its place in the output FIFO.

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

    #: Cycles from a group's last issue to its outputs entering the FIFO: memory
    #: read, its register, the multiplier (2), the accumulator; the requantising
    #: multipliers (2) and their sum, the shift in two steps, the rounding, the
    #: saturation.
    pipeline_depth = 12
    #: The stage (cycles after its last issue) at which a group's partial sums are
    #: written back.
    write_stage = 5

    def __init__(self, params, proj):
        proj.check_gateware()
        if (params.out_width, params.head_dim) != (proj.data_width, proj.head_dim):
            raise ValueError("the projection's data_width and head_dim must be the engine's "
                             "out_width and head_dim")
        self.params, self.proj = params, proj
        super().__init__({
            "c": In(stream.Signature(engine_out_layout(params))),
            "load": In(stream.Signature(load_layout())),
            "y": Out(stream.Signature(y_layout(proj))),
            "err_tile_rows": Out(1), "err_load_last": Out(1), "clear_errors": In(1),
        })

    @property
    def needs_drain(self):
        """A group's partial sums are written back :attr:`write_stage` cycles after its
        last issue; a row that starts right behind the previous one reads them (same
        tile row, one head on) ``(groups − 1)·head_dim`` cycles after that issue, too
        early when it is below that (one output group, or tiny heads): then each row
        waits ``write_stage + 1`` cycles."""
        return (self.proj.groups - 1) * self.proj.head_dim < self.write_stage

    @property
    def row_cycles(self):
        """Cycles per row when rows wait: ``groups · head_dim`` issues, back to back
        (plus the write-back drain where :attr:`needs_drain`)."""
        return self.proj.groups * self.proj.head_dim + (
            self.write_stage + 1 if self.needs_drain else 0)

    def elaborate(self, platform):
        m = Module()
        p, op = self.params, self.proj
        P, G, K, d, H, T = op.lanes, op.groups, op.k, op.head_dim, op.heads, op.tile_rows
        aw, mb = op.acc_width, op.mult_bits
        const_layout = data.StructLayout({"M": unsigned(mb), "sh": unsigned(SHIFT_BITS)})
        # Weights and partial sums in one memory per lane, each read at its lane's
        # own copy of the address: the lane's block RAMs, multiplier and adders can
        # sit together, instead of one wide word muxed from block RAMs over the die.
        wmems = [Memory(shape=signed(op.weight_width), depth=G * K, init=[]) for _ in range(P)]
        pmems = [Memory(shape=signed(aw), depth=T * G, init=[]) for _ in range(P)]
        bmem = Memory(shape=data.ArrayLayout(signed(aw), P), depth=G, init=[])
        cmem = Memory(shape=data.ArrayLayout(const_layout, P), depth=G, init=[])
        for e in range(P):
            m.submodules[f"weights{e}"], m.submodules[f"partial{e}"] = wmems[e], pmems[e]
        m.submodules.biases, m.submodules.requant = bmem, cmem

        self._load(m, wmems, bmem, cmem)

        # --- Rows in: one register of head_dim elements, with the row's place.
        w = p.out_width                          # the rows' elements, s(w+f).f
        row = Signal(data.ArrayLayout(signed(w), d))
        full = Signal()
        part = Signal(range(p.slices))
        t_in, h_in = Signal(range(T)), Signal(range(H))
        # The row's first weight word (h·d) and partial sums (t·G), kept as counters
        # (no multiplier at the row's start).
        t_base, h_base = Signal(range(T * G)), Signal(range(K))
        row_h, row_tile_last = Signal(range(H)), Signal()
        row_wbase, row_pbase = Signal(range(K)), Signal(range(T * G))
        start_row = Signal()
        m.d.comb += self.c.ready.eq(~full)
        with m.If(self.c.valid & ~full):
            for s in range(p.slices):
                with m.If(part == s):
                    m.d.sync += row.as_value()[s * p.lanes * w:
                                               (s + 1) * p.lanes * w].eq(self.c.payload.o)
            m.d.sync += part.eq(Mux(self.c.payload.row_last, 0, part + 1))
            with m.If(self.c.payload.row_last):
                m.d.sync += [full.eq(1), row_h.eq(h_in), row_wbase.eq(h_base),
                             row_pbase.eq(t_base), row_tile_last.eq(self.c.payload.last)]
                with m.If(self.c.payload.last):
                    m.d.sync += [t_in.eq(0), t_base.eq(0)]
                    with m.If(h_in == H - 1):
                        m.d.sync += [h_in.eq(0), h_base.eq(0)]
                    with m.Else():
                        m.d.sync += [h_in.eq(h_in + 1), h_base.eq(h_base + d)]
                with m.Elif(t_in == T - 1):                 # a row beyond tile_rows follows
                    m.d.sync += [t_in.eq(0), t_base.eq(0), self.err_tile_rows.eq(1)]
                with m.Else():
                    m.d.sync += [t_in.eq(t_in + 1), t_base.eq(t_base + G)]
        with m.If(start_row):
            m.d.sync += full.eq(0)
        with m.If(self.clear_errors):
            m.d.sync += self.err_tile_rows.eq(0)

        # --- Issue: for each group g, j = 0 … d-1, one weight word and one element.
        busy, final, tile_last = Signal(), Signal(), Signal()
        head = Signal(range(H))
        rot = Signal(data.ArrayLayout(signed(w), d))              # rotates once per issue
        j, g = Signal(range(d)), Signal(range(G))
        # The read addresses, one copy per lane (kept apart by synthesis).
        waddr = [Signal(range(G * K), name=f"waddr{e}", attrs=KEEP) for e in range(P)]
        paddr = [Signal(range(T * G), name=f"paddr{e}", attrs=KEEP) for e in range(P)]
        fifo_depth = 8
        m.submodules.out_fifo = fifo = SyncFIFOBuffered(width=y_layout(op).size,
                                                        depth=fifo_depth)
        reserve = Signal()
        room, _ = credit_room(m, fifo_depth, reserve, fifo.r_en & fifo.r_rdy, "y")
        issue = busy & ((j != 0) | ~final | room)
        m.d.comb += reserve.eq(issue & (j == 0) & final)
        group_end, row_end = j == d - 1, (j == d - 1) & (g == G - 1)

        cool = Signal(range(self.write_stage + 1))
        if self.needs_drain:
            with m.If(issue & row_end):
                m.d.sync += cool.eq(self.write_stage)
            with m.Elif(cool != 0):
                m.d.sync += cool.eq(cool - 1)
        m.d.comb += start_row.eq(full & (~busy | (issue & row_end)) & (cool == 0)
                                 & ~(issue & row_end & Const(self.needs_drain)))
        with m.If(issue):
            m.d.sync += [rot.as_value().eq(Cat(rot.as_value()[w:], rot.as_value()[:w])),
                         j.eq(Mux(group_end, 0, j + 1)),
                         *(a.eq(a + Mux(group_end, K - d + 1, 1)) for a in waddr)]
            with m.If(group_end):
                m.d.sync += [g.eq(g + 1), *(a.eq(a + 1) for a in paddr)]

        # A row starts when the unit is idle or in its predecessor's last cycle (these
        # assignments come last so that they win over the issue's).
        with m.If(start_row):
            m.d.sync += [busy.eq(1), rot.eq(row), head.eq(row_h), final.eq(row_h == H - 1),
                         tile_last.eq(row_tile_last), j.eq(0), g.eq(0),
                         *(a.eq(row_wbase) for a in waddr), *(a.eq(row_pbase) for a in paddr)]
        with m.Elif(issue & row_end):
            m.d.sync += busy.eq(0)
        b_rd, c_rd = bmem.read_port(transparent_for=()), cmem.read_port(transparent_for=())
        m.d.comb += [b_rd.addr.eq(g), c_rd.addr.eq(g)]

        # The issue's control travels beside the data: stage n is n cycles after issue.
        ctl_layout = data.StructLayout({"valid": 1, "first": 1, "last": 1, "final": 1,
                                        "head0": 1, "row_last": 1, "tile_last": 1,
                                        "paddr": unsigned(len(paddr[0]))})
        ctl0 = Signal(ctl_layout)
        m.d.comb += ctl0.eq(Cat(issue, j == 0, group_end, final, head == 0, g == G - 1,
                                tile_last, paddr[0]))
        ctl = [ctl0]
        for n in range(1, self.pipeline_depth + 1):
            reg = Signal(ctl_layout, name=f"ctl{n}")
            m.d.sync += reg.eq(ctl[-1])
            ctl.append(reg)
        elem = delay(m, 1, rot[0], 2, "elem")                         # stage 2

        # Stage 2: the memories' words registered (no logic after a block RAM's
        # output); stage 3: the sum's start chosen.
        w_q = Signal(data.ArrayLayout(signed(op.weight_width), P))
        b_q, p_q = Signal.like(b_rd.data), Signal(data.ArrayLayout(signed(aw), P))
        consts = Signal.like(c_rd.data)
        for e in range(P):
            w_rd = wmems[e].read_port(transparent_for=())
            p_rd = pmems[e].read_port(transparent_for=())
            m.d.comb += [w_rd.addr.eq(waddr[e]), p_rd.addr.eq(paddr[e])]
            m.d.sync += [w_q[e].eq(w_rd.data), p_q[e].eq(p_rd.data)]
        start = Signal(data.ArrayLayout(signed(aw), P))
        m.d.sync += [b_q.eq(b_rd.data), consts.eq(c_rd.data),
                     start.eq(Mux(ctl[2].head0, b_q.as_value(), p_q.as_value()))]
        start4 = delay(m, 1, start, 1, "start")                      # stage 4
        consts5 = delay(m, 1, consts, 3, "consts")                   # stage 5
        # The requantising product acc·M as two DSP-sized products, acc's low
        # LOW_BITS (unsigned) and its high part (signed), summed a cycle later.
        low_bits = min(17, aw - 1)

        acc = Signal(data.ArrayLayout(signed(aw), P))
        result = Signal(data.ArrayLayout(signed(op.out_width), P))
        hi, lo = (1 << (op.out_width - 1)) - 1, -(1 << (op.out_width - 1))
        for e in range(P):
            m.submodules[f"mul{e}"] = mul = Multiplier(signed(op.weight_width), signed(w))
            m.d.comb += [mul.a.eq(w_q[e]), mul.b.eq(elem)]           # product at stage 4
            with m.If(ctl[4].valid):
                m.d.sync += acc[e].eq(Mux(ctl[4].first, start4[e], acc[e]) + mul.p)
            # Stage 5: a finished sum (ctl[5].last) requantised when final:
            # y = sat(floor((acc·M + 2^(sh-1)) / 2^sh)), as floor((floor(2·acc·M / 2^sh)
            # + 1) / 2), which also holds for sh = 0.
            m.submodules[f"req_lo{e}"] = req_lo = Multiplier(unsigned(low_bits), unsigned(mb))
            m.submodules[f"req_hi{e}"] = req_hi = Multiplier(signed(aw - low_bits), unsigned(mb))
            m.d.comb += [req_lo.a.eq(acc[e][:low_bits]), req_hi.a.eq(acc[e][low_bits:]),
                         req_lo.b.eq(consts5[e].M), req_hi.b.eq(consts5[e].M)]  # stage 7
            product = Signal(signed(aw + mb + 1), name=f"product{e}")           # stage 8
            m.d.sync += product.eq((req_hi.p << low_bits) + req_lo.p)
            sh = delay(m, 1, consts5[e].sh, 3, f"sh{e}")                         # stage 8
            sh9 = delay(m, 1, sh, 1, f"sh9_{e}")
            # The shift of 2·acc·M in two steps: by sh's high bits (stage 9), its low
            # three (stage 10); then round (11) and saturate (12).
            coarse = Signal(signed(len(product) + 1), name=f"coarse{e}")
            m.d.sync += coarse.eq(Cat(Const(0, 1), product).as_signed() >> (sh[3:] << 3))
            halved = Signal(signed(len(coarse)), name=f"halved{e}")
            m.d.sync += halved.eq(coarse >> sh9[:3])
            rounded = Signal(signed(len(coarse)), name=f"rounded{e}")
            m.d.sync += [rounded.eq((halved + 1) >> 1),
                         result[e].eq(Mux(rounded > hi, hi, Mux(rounded < lo, lo, rounded)))]
        back = ctl[self.write_stage]
        for e in range(P):
            p_wr = pmems[e].write_port()
            m.d.comb += [p_wr.addr.eq(back.paddr), p_wr.data.eq(acc[e]),
                         p_wr.en.eq(back.valid & back.last & ~back.final)]

        # A final group's outputs into the FIFO (its place was reserved).
        out = ctl[self.pipeline_depth]
        m.d.comb += [fifo.w_en.eq(out.valid & out.last & out.final),
                     fifo.w_data.eq(Cat(result, out.row_last, out.row_last & out.tile_last)),
                     self.y.valid.eq(fifo.r_rdy), self.y.payload.eq(fifo.r_data),
                     fifo.r_en.eq(self.y.ready)]
        return m

    def _load(self, m, wmems, bmem, cmem):
        """The load port: weight words assembled from ``words_per_weight_row`` beats,
        biases and requantisation constants from ``lanes`` beats each."""
        op = self.proj
        P, G, K = op.lanes, op.groups, op.k
        shift = Signal(P * LOAD_WORD_BITS)
        shifted = Cat(shift[LOAD_WORD_BITS:], self.load.payload.data)
        phase = Signal(range(3))                      # weights, biases, requantisation
        beat = Signal(range(max(P, op.words_per_weight_row)))
        addr = Signal(range(G * K))
        word_done = Mux(phase == 0, beat == op.words_per_weight_row - 1, beat == P - 1)
        phase_done = word_done & (addr == Mux(phase == 0, G * K - 1, G - 1))
        final = phase_done & (phase == 2)
        take = self.load.valid & self.load.ready
        m.d.comb += self.load.ready.eq(1)

        b_wr, c_wr = bmem.write_port(), cmem.write_port()
        ww = op.weight_width
        word = shifted[-P * ww:]
        for e in range(P):
            w_wr = wmems[e].write_port()
            m.d.comb += [w_wr.addr.eq(addr), w_wr.data.eq(word[e * ww:(e + 1) * ww]),
                         w_wr.en.eq(take & (phase == 0) & word_done)]
        m.d.comb += [
            b_wr.addr.eq(addr), b_wr.data.eq(Cat(shifted[32 * e:32 * e + op.acc_width]
                                                 for e in range(P))),
            b_wr.en.eq(take & (phase == 1) & word_done),
            c_wr.addr.eq(addr),
            c_wr.data.eq(Cat(Cat(shifted[32 * e:32 * e + op.mult_bits],
                                 shifted[32 * e + SHIFT_LSB:32 * e + SHIFT_LSB + SHIFT_BITS])
                             for e in range(P))),
            c_wr.en.eq(take & (phase == 2) & word_done),
        ]
        with m.If(take):
            m.d.sync += shift.eq(shifted)
            with m.If(self.load.payload.last | final):
                m.d.sync += [phase.eq(0), beat.eq(0), addr.eq(0)]
                with m.If(self.load.payload.last != final):
                    m.d.sync += self.err_load_last.eq(1)
            with m.Elif(phase_done):
                m.d.sync += [phase.eq(phase + 1), beat.eq(0), addr.eq(0)]
            with m.Elif(word_done):
                m.d.sync += [beat.eq(0), addr.eq(addr + 1)]
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
        with m.If(self.clear_errors):
            m.d.sync += self.err_load_last.eq(0)
