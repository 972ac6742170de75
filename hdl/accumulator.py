"""Accumulator for ``sum_j e_j * v_j``, rescaled by shifts as the max grows."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import row_layout, weight_layout

__all__ = ["Accumulator"]


class Accumulator(wiring.Component):
    """``acc = (first ? 0 : acc >> delta) + e * v * 2^G`` for each slice of each key.

    Golden: ``golden.attention.accumulate``. The ``head_dim`` accumulators are a ring
    of ``head_dim // lanes`` slices that rotates by one slice per value beat, so the
    slice being updated is always at the head (no address multiplexers). On a query's
    last key the updated slices leave through ``o`` instead of being kept.

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

    Latency: 2 cycles (registered products, registered accumulate).
    """

    latency = 2

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

    def elaborate(self, platform):
        m = Module()
        p = self.params
        en = Signal()
        m.d.comb += en.eq(~self.o.valid | self.o.ready)

        # Join: a value beat moves only with its key's weight present.
        slice_idx = Signal(range(max(2, p.slices)))  # >= 1 bit: no zero-width wire in Verilog
        end_of_key = slice_idx == p.slices - 1
        take = Signal()
        m.d.comb += [
            self.values.ready.eq(en & self.weights.valid),
            self.weights.ready.eq(en & self.values.valid & end_of_key),
            take.eq(self.values.valid & self.values.ready),
        ]
        with m.If(take):
            m.d.sync += slice_idx.eq(Mux(end_of_key, 0, slice_idx + 1))

        # Stage 1: products e * v, s(w+E+1).E, registered (maps onto DSP blocks).
        w_in = self.weights.payload
        prod_w = p.exp_weight_width + p.data_width + 1
        prods = [Signal(signed(prod_w), name=f"prod{n}") for n in range(p.lanes)]
        valid1, first1, last1, row_end1 = Signal(), Signal(), Signal(), Signal()
        delta1 = Signal.like(w_in.delta)
        sum1 = Signal.like(w_in.sum)
        with m.If(en):
            m.d.sync += [valid1.eq(take), first1.eq(w_in.first), last1.eq(w_in.last),
                         row_end1.eq(w_in.last & end_of_key), delta1.eq(w_in.delta),
                         sum1.eq(w_in.sum)]
            m.d.sync += [pr.eq(w_in.e * self.values.payload[n]) for n, pr in enumerate(prods)]

        # Stage 2: update the head slice of the ring and rotate.
        ring = [Signal(data.ArrayLayout(signed(p.acc_width), p.lanes), name=f"ring{s}")
                for s in range(p.slices)]
        head = ring[0]
        updated = self.updated
        m.d.comb += self.update_valid.eq(en & valid1)
        for n in range(p.lanes):
            m.d.comb += updated[n].eq(Mux(first1, 0, head[n] >> delta1)
                                      + (prods[n] << p.guard_bits))
        with m.If(en):
            m.d.sync += self.o.valid.eq(valid1 & last1)
            with m.If(valid1):
                m.d.sync += [a.eq(b) for a, b in zip(ring, ring[1:] + [updated])]
                m.d.sync += [self.o.payload.acc.eq(updated), self.o.payload.sum.eq(sum1),
                             self.o.payload.last.eq(row_end1)]
        return m
