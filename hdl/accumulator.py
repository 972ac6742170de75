"""Accumulator for ``sum_j e_j * v_j``, rescaled by shifts as the max grows."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .credits import credit_room
from .layouts import row_layout, weight_layout
from .multiplier import Multiplier
from .pipeline import delay
from .replicate import register_copies
from .row_buffer import RowBuffer, narrow_layout

__all__ = ["Accumulator"]


def _above(x, limit):
    """``x > limit`` (``x`` unsigned, ``limit`` a small constant) in LUTs, without a carry
    chain: a bit above ``limit``'s width is set, or the low bits are one of the few
    values above it."""
    k = limit.bit_length()
    high = x[k:].any() if len(x) > k else C(0)
    return high | Cat(x[:k] == v for v in range(limit + 1, 1 << k)).any()


class Accumulator(wiring.Component):
    """``acc = (first ? 0 : acc >> delta) + e * v * 2^G`` for each slice of each key.

    Golden: ``attnhw.golden.attention.accumulate``. The ``head_dim`` accumulators of each
    lane are ``head_dim // lanes`` slots of a small RAM per lane (LUT-RAM on FPGAs),
    addressed by the beat's slice index. On a query's last key the updated slices
    also leave through ``o`` (the next query's first key overwrites its slots).

    The pipeline never stalls inside: a beat enters only when the output FIFO
    (:attr:`row_depth` slices, one finished row) has a place reserved for every
    slice it will emit, counted by a credit counter, so no enable fans out from the
    output handshake to the lanes. The rescale is split from the add: a slice's
    recurrence repeats every ``slices`` beats, which leaves room for stages between
    reading its slot and writing it back (:attr:`latency`): with three slices or
    more, slot read, shift and add take a stage each (with four or more, a register
    after the shift too); with one or two, the shift shares the slot read's. With one slice per vector the slot is the sum being
    written, bypassed into the shifter: correct, but that path is a shift and an add
    in one cycle (head_dim == lanes only).

    The shifter moves a slot by at most :attr:`SHIFT_STEP` bits (one 4:1 select per
    bit instead of a barrel shifter of ``acc_width`` bits): a key whose ``delta`` is
    larger (the running max rose by more than that many octaves at once, which
    happens a few times per row at most) first runs ``ceil(delta / SHIFT_STEP) - 1``
    shift passes over the row's slots, ``slices`` cycles each, taking no input, then
    applies the rest with its own beats. Exact: ``floor(floor(a / 2^s) / 2^t) =
    floor(a / 2^(s+t))``.
    Every lane has its own copy of the shift, ``first``, the RAM's addresses and its
    write enable.

    Bound: ``|acc| <= max_seq_len * 2^E * 2^(w-1) * 2^G``, which fits ``acc_width``
    (``AttnParams.acc_width``), so it cannot overflow for ``max_seq_len`` keys.

    Members
    -------
    weights : ``In(stream.Signature(...))``
        One beat per key from :class:`OnlineSoftmax` (``e``, ``delta``, ``first``,
        ``last``, ``sum``); consumed with the key's last value slice.
    values : ``In(stream.Signature(lanes x s(w).0))``
        ``head_dim // lanes`` slices of ``v_j`` per key.
    values_late : ``In(lanes x s(w).0)``, with ``late_values``
        The payload of the ``values`` beat taken in the previous cycle (from a
        :class:`RowBuffer` with ``late``); ``values.payload`` is then unused.
    o : ``Out(stream.Signature(...))``
        ``{acc: lanes/parts x s(acc_width - E - G).(E+G), sum: u.(E+G), last: 1}``, the
        finished row, each slice in ``parts`` beats (lanes ``0 … lanes/parts − 1``
        first), ``last`` on the final beat of its final slice.

    Parameters
    ----------
    params : AttnParams
    parts : int
        Beats per slice on ``o``, dividing ``lanes`` (1: a slice per beat). A row
        leaves once per query, so a narrow port suffices where the row's reader
        takes ``lanes/parts`` elements at once (the engine's narrow normaliser).

    Latency: :attr:`latency` cycles from a value beat to its slice written into the
    output buffer (the take, the stages up to the add), plus the buffer's own.
    """

    @property
    def latency(self):
        return 1 + self._stages   # `take`, the stages up to the add, the row register

    @property
    def _stages(self):
        return self._stages_for(self.params)

    #: The largest rescale shift applied in one pass over a row's slots (see the class
    #: docstring): each lane's shifter is a 4:1 select.
    SHIFT_STEP = 3

    def __init__(self, params, parts=1, *, late_values=False):
        self.params = params
        self.parts = parts
        self.late_values = late_values
        assert not late_values or self.late_values_possible(params), "late values need four slices"
        p = params
        value_shape = data.ArrayLayout(signed(p.data_width), p.lanes)
        super().__init__({
            "weights": In(stream.Signature(weight_layout(p))),
            "values": In(stream.Signature(value_shape)),
            "o": Out(stream.Signature(narrow_layout(row_layout(p), "acc", parts))),
            **({"values_late": In(value_shape)} if late_values else {}),
        })
        # Observation only (not ports): the slice written to its slots this cycle, for
        # the formal bound proof (sim/formal/harnesses.py).
        self.updated = Signal(data.ArrayLayout(signed(p.acc_width), p.lanes))
        self.update_valid = Signal()

    @staticmethod
    def _stages_for(p):
        return 2 if p.slices <= 2 else min(p.slices, 4)

    @classmethod
    def late_values_possible(cls, params):
        """Whether the values may arrive a cycle after their take (``late_values``:
        ``values_late``, ``values.payload`` unused), which the accumulator's own
        operand register then absorbs (four slices or more)."""
        return cls._stages_for(params) - Multiplier.latency - 1 >= 1

    @property
    def row_depth(self):
        """Output buffer depth in slices: one finished row and the credit count's
        slack (:func:`attnhw.hdl.credits.credit_room`), rounded up to a power of two."""
        return 1 << self.params.slices.bit_length()

    def _products(self, m, e_next):
        """Products e * v, s(w+E+1).E, one Multiplier per lane, due at the add stage
        (``_stages`` cycles after the issue of ``e_next``)."""
        L, P = self.params.lanes, self._stages
        # Where the stages allow it (P > Multiplier.latency), the product is
        # registered once more in the fabric beside the adder, so the DSP's output
        # (slow to leave the block) does not share a cycle with the add. The operands
        # (18 + 8 bits per lane) wait the remaining cycles before the multiplier
        # rather than the 26-bit products after it. A shift pass multiplies by e = 0.
        # With a cycle to spare (four slices or more), e reaches the multipliers through
        # one register copy per group of 4 lanes, not one net to all of them.
        prod_reg = 1 if P > Multiplier.latency else 0
        ahead = P - Multiplier.latency - prod_reg
        if ahead:
            e_groups = register_copies(m, e_next, -(-L // 4), "e_g")
            e_groups = [delay(m, C(1), e, ahead - 1, f"e_g{g}") for g, e in enumerate(e_groups)]
        prods = []
        for n in range(L):
            if self.late_values:
                v_in = delay(m, C(1), self.values_late[n], ahead - 1, f"v{n}")
            else:
                v_in = delay(m, C(1), self.values.payload[n], ahead, f"v{n}")
            mult = m.submodules[f"mult{n}"] = Multiplier(self.weights.payload.e.shape(),
                                                         self.values.payload[n].shape())
            m.d.comb += [mult.a.eq(e_groups[n // 4] if ahead else e_next), mult.b.eq(v_in)]
            prods.append(delay(m, C(1), mult.p, prod_reg, f"prod{n}"))
        return prods

    def elaborate(self, platform):
        m = Module()
        p = self.params
        L = p.lanes
        # Read asynchronously, so the reader's per-lane registers take a row without a
        # ~700-bit output register whose enable would be the reader's handshake; one
        # LUT-RAM per lane, each with its own enable and pointer copies.
        m.submodules.rows = rows = RowBuffer(row_layout(p), "acc", self.row_depth,
                                             parts=self.parts)
        row_read = rows.r.valid & rows.r.ready & rows.r_final      # a slice's final part
        m.d.comb += [self.o.valid.eq(rows.r.valid), rows.r.ready.eq(self.o.ready),
                     self.o.payload.acc.eq(rows.r.payload.acc),
                     self.o.payload.sum.eq(rows.r.payload.sum),
                     self.o.payload.last.eq(rows.r.payload.last & rows.r_final)]

        # Credits: slices that will be written to the FIFO and not yet read out.
        room = Signal()

        # Join: a value beat moves only with its key's weight present.
        slice_idx = Signal(range(max(2, p.slices)))  # >= 1 bit: no zero-width wire in Verilog
        end_of_key = slice_idx == p.slices - 1
        w_in = self.weights.payload
        take = Signal()

        # The rescale in steps of at most SHIFT_STEP bits: a key whose shift `delta` is
        # larger first runs shift passes (every slot of the row shifted by SHIFT_STEP,
        # nothing added, no input taken) until at most SHIFT_STEP is left, which its own
        # beats then apply. floor(floor(a / 2^s) / 2^t) = floor(a / 2^(s+t)), so the
        # result is the one shift's.
        S = self.SHIFT_STEP
        shifting = Signal()                # a shift pass is running
        adjusted = Signal()                # the head key's shift is `rest`, not its delta
        rest = Signal.like(w_in.delta)
        need_passes = ~adjusted & ~w_in.first & _above(w_in.delta, S)
        # Only the beats of a query's last key write the FIFO, so only they need room.
        may_take = (room | ~w_in.last) & ~shifting & ~need_passes
        m.d.comb += [
            self.values.ready.eq(self.weights.valid & may_take),
            self.weights.ready.eq(self.values.valid & may_take & end_of_key),
            take.eq(self.values.valid & self.values.ready),
        ]
        issue = take | shifting            # a beat enters the pipeline
        with m.If(issue):
            m.d.sync += slice_idx.eq(Mux(end_of_key, 0, slice_idx + 1))
        with m.If(self.weights.valid & ~shifting & need_passes):
            m.d.sync += [shifting.eq(1), adjusted.eq(1), rest.eq(w_in.delta)]
        with m.If(shifting & end_of_key):
            m.d.sync += rest.eq(rest - S)
            with m.If(~_above(rest, 2 * S)):
                m.d.sync += shifting.eq(0)
        with m.If(take & end_of_key):
            m.d.sync += adjusted.eq(0)
        beat_shift = Signal(range(S + 1))
        m.d.comb += beat_shift.eq(Mux(shifting, S, Mux(adjusted, rest, w_in.delta)))
        m.d.comb += room.eq(credit_room(m, self.row_depth, take & w_in.last, row_read,
                                        "rows")[0])

        P = self._stages
        prods = self._products(m, Mux(shifting, 0, w_in.e))

        # Stages after `issue`: 1 reads the slot, the last (`P`) adds into it. A slice
        # comes back every `slices` beats, which bounds the stages in between: P = 2
        # (slot read and shift; add) for one or two slices, 3 (the shift apart) for
        # three, 4 (a register after the shift, and e registered per lane group before
        # the multipliers) for four or more.
        side = data.StructLayout({"valid": 1, "last": 1, "row_end": 1,
                                  "sum": w_in.sum.shape()})
        stage = {1: Signal(side, name="side1")}
        m.d.sync += [stage[1].valid.eq(issue), stage[1].last.eq(take & w_in.last),
                     stage[1].row_end.eq(take & w_in.last & end_of_key),
                     stage[1].sum.eq(w_in.sum)]
        for k in range(2, P + 1):
            stage[k] = Signal(side, name=f"side{k}")
            m.d.sync += stage[k].eq(stage[k - 1])
        add = stage[P]
        # Per-lane copies of the shift and `first` (stage 1).
        shift_1 = register_copies(m, beat_shift, L, "shift_1")
        first_1 = register_copies(m, w_in.first & ~shifting, L, "first_1")
        # The slices of each lane live in a small RAM per lane (LUT-RAM on FPGAs,
        # `slices` words of acc_width bits), read asynchronously in stage 1 at the
        # beat's slice index and written in stage P. A slice's previous beat came
        # `slices` or more cycles earlier and wrote it at the end of its stage P,
        # at most P <= slices cycles after its issue, so stage 1 reads it back; only
        # with one slice (P = 2 > 1) is the slot the sum being written in the same
        # cycle, bypassed into the shifter.
        # Per lane: copies of the slice index (read address, then delayed to the
        # write), and of the write enable, from valid bits copied per group of
        # 4 lanes (a register tree: 16 flip-flops per source, not 64).
        G = -(-L // 4)
        group_valid = {1: register_copies(m, issue, G, "valid1_g", reset_less=False)}
        for k in range(2, P):
            group_valid[k] = [register_copies(m, v, 1, f"valid{k}_g{g}", reset_less=False)[0]
                              for g, v in enumerate(group_valid[k - 1])]
        read_addr = register_copies(m, slice_idx, L, "read_addr")
        updated = self.updated
        shift_at = 1 if P == 2 else 2     # the stage that shifts (and zeroes on `first`)
        for n in range(L):
            g = n // 4
            mem = m.submodules[f"slots{n}"] = Memory(shape=signed(p.acc_width),
                                                     depth=max(2, p.slices), init=[])
            wp, rp = mem.write_port(), mem.read_port(domain="comb")
            write_en = register_copies(m, group_valid[P - 1][g], 1, f"write_en{n}",
                                       reset_less=False)[0]
            m.d.comb += [rp.addr.eq(read_addr[n]), wp.en.eq(write_en), wp.data.eq(updated[n]),
                         wp.addr.eq(delay(m, C(1), read_addr[n], P - 1, f"write_addr{n}"))]
            slot = rp.data
            if p.slices == 1:
                # The beat ahead (stage 2 = P) adds into this very slot now.
                bypass = register_copies(m, stage[1].valid, 1, f"bypass{n}",
                                         reset_less=False)[0]
                slot = Mux(bypass, updated[n], rp.data)
            shift, first = shift_1[n], first_1[n]
            if shift_at == 2:
                slot_2 = Signal(signed(p.acc_width), name=f"slot_2_{n}")
                shift_2 = Signal.like(shift, name=f"shift_2_{n}")
                first_2 = Signal(name=f"first_2_{n}")
                m.d.sync += [slot_2.eq(slot), shift_2.eq(shift), first_2.eq(first)]
                slot, shift, first = slot_2, shift_2, first_2
            # The shift (at most SHIFT_STEP: one 4:1 select per bit), or 0 on a query's
            # first key (a synchronous reset of the register).
            base = Signal(signed(p.acc_width), name=f"base{n}")
            m.d.sync += base.eq(Mux(first, 0, slot >> shift))
            base = delay(m, C(1), base, P - shift_at - 1, f"base{n}")
            m.d.comb += updated[n].eq(base + (prods[n] << p.guard_bits))
        m.d.comb += self.update_valid.eq(add.valid)

        # The finished slice; the row buffer registers it before its LUT-RAMs.
        m.d.comb += [rows.w_data.acc.eq(updated), rows.w_data.sum.eq(add.sum),
                     rows.w_data.last.eq(add.row_end), rows.w_en.eq(add.valid & add.last)]
        return m
