"""Accumulator for ``sum_j e_j * v_j``, rescaled by shifts as the max grows."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .credits import credit_room
from .layouts import row_layout, weight_layout
from .multiplier import Multiplier
from .replicate import register_copies
from .row_buffer import RowBuffer

__all__ = ["Accumulator"]


class Accumulator(wiring.Component):
    """``acc = (first ? 0 : acc >> delta) + e * v * 2^G`` for each slice of each key.

    Golden: ``golden.attention.accumulate``. The ``head_dim`` accumulators are a ring
    of ``head_dim // lanes`` slices that rotates by one slice per value beat, so the
    slice being updated is always at the head (no address multiplexers). On a query's
    last key the updated slices leave through ``o`` instead of being kept.

    The pipeline never stalls inside: a beat enters only when the output FIFO
    (:attr:`row_depth` slices, one finished row) has a place reserved for every
    slice it will emit, counted by a credit counter, so no enable fans out from the
    output handshake to the lanes. The rescale is split from the add: a slice's
    recurrence repeats every ``slices`` beats, so its shift ``acc >> delta`` starts a
    cycle ahead from the ring slot that will be at the head (``ring[1]`` when the head
    is being updated in the same cycle): by the multiple of 8 in ``delta`` there, by
    the remainder in the next stage, and with three slices or more the add in a stage
    of its own (the slot is then the one after the rotations of the two beats
    ahead). With one slice per vector
    the slot is the sum being written, bypassed into the shifter: correct, but that
    path is a shift and an add in one cycle (head_dim == lanes only).
    Every lane has its own copy of the shift, ``first`` and the slot select, and
    every slice of a lane its own ring enable.

    Bound: ``|acc| <= max_seq_len * 2^E * 2^(w-1) * 2^G``, which fits ``acc_width``
    (``AttnParams.acc_width``), so it cannot overflow for ``max_seq_len`` keys.

    Members
    -------
    weights : ``In(stream.Signature(...))``
        One beat per key from :class:`OnlineSoftmax` (``e``, ``delta``, ``first``,
        ``last``, ``sum``); consumed with the key's last value slice.
    values : ``In(stream.Signature(lanes x s(w).0))``
        ``head_dim // lanes`` slices of ``v_j`` per key.
    o : ``Out(stream.Signature(...))``
        ``{acc: lanes x s(acc_width - E - G).(E+G), sum: u.(E+G), last: 1}``, the
        finished row, ``last`` on its final slice.

    Latency: :attr:`latency` cycles from a value beat to its slice written into the
    output FIFO (multiplier, coarse shift, fine shift and add, with three slices or
    more in two stages, register), plus the FIFO's own.
    """

    @property
    def latency(self):
        return Multiplier.latency + (3 if self.params.slices >= 3 else 2)

    def __init__(self, params):
        self.params = params
        p = params
        super().__init__({
            "weights": In(stream.Signature(weight_layout(p))),
            "values": In(stream.Signature(data.ArrayLayout(signed(p.data_width), p.lanes))),
            "o": Out(stream.Signature(row_layout(p))),
        })
        # Observation only (not ports): the slice written to the ring this cycle, for
        # the formal bound proof (sim/formal/harnesses.py).
        self.updated = Signal(data.ArrayLayout(signed(p.acc_width), p.lanes))
        self.update_valid = Signal()

    @property
    def row_depth(self):
        """Output buffer depth in slices: one finished row, rounded up to a power of
        two, 2 at least (a 1-entry buffer has a zero-width address, which Verilator
        rejects)."""
        return max(2, 1 << (self.params.slices - 1).bit_length())

    def elaborate(self, platform):
        m = Module()
        p = self.params
        L = p.lanes
        # Read asynchronously, so the reader's per-lane registers take a row without a
        # ~700-bit output register whose enable would be the reader's handshake; one
        # LUT-RAM per lane, each with its own enable and pointer copies.
        m.submodules.rows = rows = RowBuffer(row_layout(p), "acc", self.row_depth)
        wiring.connect(m, rows.r, wiring.flipped(self.o))

        # Credits: slices that will be written to the FIFO and not yet read out.
        room = Signal()

        # Join: a value beat moves only with its key's weight present.
        slice_idx = Signal(range(max(2, p.slices)))  # >= 1 bit: no zero-width wire in Verilog
        end_of_key = slice_idx == p.slices - 1
        w_in = self.weights.payload
        take = Signal()
        # Only the beats of a query's last key write the FIFO, so only they need room.
        may_take = room | ~w_in.last
        m.d.comb += [
            self.values.ready.eq(self.weights.valid & may_take),
            self.weights.ready.eq(self.values.valid & may_take & end_of_key),
            take.eq(self.values.valid & self.values.ready),
        ]
        with m.If(take):
            m.d.sync += slice_idx.eq(Mux(end_of_key, 0, slice_idx + 1))
        m.d.comb += room.eq(credit_room(m, self.row_depth, take & w_in.last,
                                        rows.r.valid & rows.r.ready, "rows")[0])

        # Stages 0-1: products e * v, s(w+E+1).E, one Multiplier per lane.
        prods = []
        for n in range(L):
            mult = m.submodules[f"mult{n}"] = Multiplier(w_in.e.shape(),
                                                         self.values.payload[n].shape())
            m.d.comb += [mult.a.eq(w_in.e), mult.b.eq(self.values.payload[n])]
            prods.append(mult.p)

        # Side band, stage A (one cycle after `take`): per-lane copies of the shift
        # and `first`; stage B (two cycles after): the beat is added into the ring.
        valid_a, last_a, row_end_a = Signal(), Signal(), Signal()
        sum_a = Signal.like(w_in.sum)
        m.d.sync += [valid_a.eq(take), last_a.eq(w_in.last),
                     row_end_a.eq(w_in.last & end_of_key), sum_a.eq(w_in.sum)]
        delta_a = register_copies(m, w_in.delta, L, "delta_a")
        first_a = register_copies(m, w_in.first, L, "first_a")
        valid_b, last_b, row_end_b = Signal(), Signal(), Signal()
        sum_b = Signal.like(w_in.sum)
        m.d.sync += [valid_b.eq(valid_a), last_b.eq(last_a), row_end_b.eq(row_end_a),
                     sum_b.eq(sum_a)]
        # With three slices or more, the fine shift (stage B) and the add (stage C)
        # get a cycle each; with fewer, a slice comes back to the head too soon for
        # that and both are in stage B.
        split = p.slices >= 3
        if split:
            valid_c, last_c, row_end_c = Signal(), Signal(), Signal()
            sum_c = Signal.like(w_in.sum)
            m.d.sync += [valid_c.eq(valid_b), last_c.eq(last_b), row_end_c.eq(row_end_b),
                         sum_c.eq(sum_b)]
            valid_add, last_add, row_end_add, sum_add = valid_c, last_c, row_end_c, sum_c
            before_add = valid_b
        else:
            valid_add, last_add, row_end_add, sum_add = valid_b, last_b, row_end_b, sum_b
            before_add = valid_a
        # The beat in the add stage rotates the ring: per lane, copies of the rotations
        # pending (they select the slot) and one enable per slice of its 40-odd flip-flops.
        # Four copies of each select per lane, each for a quarter of its bits.
        Q = 4
        rotate = register_copies(m, valid_a, L * Q, "rotate_b", reset_less=False)
        rotate_c = (register_copies(m, valid_b, L * Q, "rotate_c", reset_less=False)
                    if split else None)
        quarters = [(q * p.acc_width // Q, (q + 1) * p.acc_width // Q) for q in range(Q)]
        shift_ring = register_copies(m, before_add, L * p.slices, "shift_ring",
                                     reset_less=False)

        ring = [Signal(data.ArrayLayout(signed(p.acc_width), L), name=f"ring{s}")
                for s in range(p.slices)]
        updated = self.updated
        # The shift in two parts, exact since floor(floor(a / 2^c) / 2^f) = floor(a /
        # 2^(c+f)): stage A by the multiple of 8 in delta, stage B by the rest.
        coarse = Signal(data.ArrayLayout(signed(p.acc_width), L))
        fine_b = [Signal(3, name=f"fine_b{n}") for n in range(L)]
        for n in range(L):
            # Stage A: the slot this beat will update, coarsely shifted (0 on a query's
            # first key): the ring slice that will be at the head when the beat adds,
            # after the rotations of the beats ahead of it.
            parts = []
            for q, (lo, hi) in enumerate(quarters):
                r_b = rotate[n * Q + q]
                if split:
                    r_c = rotate_c[n * Q + q]
                    parts.append(Mux(r_b & r_c, ring[2][n][lo:hi],
                                     Mux(r_b | r_c, ring[1][n][lo:hi], ring[0][n][lo:hi])))
                elif p.slices > 1:
                    parts.append(Mux(r_b, ring[1][n][lo:hi], ring[0][n][lo:hi]))
                else:
                    parts.append(Mux(r_b, updated[n][lo:hi], ring[0][n][lo:hi]))
            slot = Cat(*parts).as_signed()
            m.d.sync += [coarse[n].eq(Mux(first_a[n], 0, slot >> Cat(C(0, 3), delta_a[n][3:]))),
                         fine_b[n].eq(delta_a[n][:3])]
            # Stage B: the fine shift; the add here or, split, in stage C.
            fine = coarse[n] >> fine_b[n]
            prod = prods[n]
            if split:
                fine_c = Signal(signed(p.acc_width), name=f"fine_c{n}")
                prod_c = Signal.like(prods[n], name=f"prod_c{n}")
                m.d.sync += [fine_c.eq(fine), prod_c.eq(prods[n])]
                fine, prod = fine_c, prod_c
            m.d.comb += updated[n].eq(fine + (prod << p.guard_bits))
            for s in range(p.slices):
                with m.If(shift_ring[n * p.slices + s]):
                    m.d.sync += ring[s][n].eq(ring[s + 1][n] if s + 1 < p.slices else updated[n])
        m.d.comb += self.update_valid.eq(valid_add)

        # The finished slice; the row buffer registers it before its LUT-RAMs.
        m.d.comb += [rows.w_data.acc.eq(updated), rows.w_data.sum.eq(sum_add),
                     rows.w_data.last.eq(row_end_add), rows.w_en.eq(valid_add & last_add)]
        return m
