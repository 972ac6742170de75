"""Dot-product unit: ``lanes`` multipliers, a pipelined adder tree, a slice accumulator."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .multiplier import Multiplier
from .pipeline import delay

__all__ = ["DotProduct"]


class DotProduct(wiring.Component):
    """Streams ``s = a . b`` over vectors that arrive as ``lanes``-wide slices.

    Golden: ``attnhw.golden.attention.dot_product``.

    Parameters
    ----------
    params : AttnParams
        Uses ``data_width``, ``lanes``, ``head_dim`` (sizes the score).
    tag_shape : ShapeLike
        Side-band data carried from a vector's final slice to its score.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{a, b: lanes x s(w).0, last: 1, tag}``; ``last`` marks a vector's final slice.
    o : ``Out(stream.Signature(...))``
        ``{score: s(score_width).0, tag}``, one beat per vector.

    Latency: :attr:`latency` cycles from a final slice to its score (a
    :class:`~attnhw.hdl.multiplier.Multiplier` per lane: operand and product registers,
    ``ceil(log2 lanes)`` adder stages, 1 slice-accumulator stage).
    Throughput: one slice per cycle.
    """

    def __init__(self, params, tag_shape=0):
        self.params = params
        p = params
        lanes = data.ArrayLayout(signed(p.data_width), p.lanes)
        self.tag_shape = tag_shape
        super().__init__({
            "i": In(stream.Signature(data.StructLayout(
                {"a": lanes, "b": lanes, "last": 1, "tag": tag_shape}))),
            "o": Out(stream.Signature(data.StructLayout(
                {"score": signed(p.score_width), "tag": tag_shape}))),
        })

    @property
    def tree_levels(self):
        return (self.params.lanes - 1).bit_length()

    @property
    def latency(self):
        return Multiplier.latency + self.tree_levels + 1

    def elaborate(self, platform):
        m = Module()
        p = self.params
        w = p.data_width
        # One global enable: the pipeline advances unless the output is held.
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # Stages 0-1: products, s(2w).0 (|a*b| <= 2^(2w-2)), one registered
        # multiplier per lane (operands and product in the DSP's own registers).
        terms = []
        for n in range(p.lanes):
            mult = m.submodules[f"mult{n}"] = Multiplier(signed(w), signed(w))
            m.d.comb += [mult.a.eq(self.i.payload.a[n]), mult.b.eq(self.i.payload.b[n]),
                         mult.en.eq(en)]
            terms.append(mult.p)
        valid = delay(m, en, self.i.valid, Multiplier.latency, "valid")
        last = delay(m, en, self.i.payload.last, Multiplier.latency, "last")
        tag = delay(m, en, self.i.payload.tag, Multiplier.latency, "tag")

        # Adder tree: each level sums pairs, one bit wider, registered.
        for level in range(self.tree_levels):
            nxt = []
            for n in range(0, len(terms), 2):
                pair = terms[n:n + 2]
                s = Signal(signed(len(pair[0]) + 1), name=f"sum{level}_{n // 2}")
                with m.If(en):
                    m.d.sync += s.eq(pair[0] + pair[1] if len(pair) == 2 else pair[0])
                nxt.append(s)
            terms = nxt
            v2, l2, t2 = Signal(), Signal(), Signal(self.tag_shape)
            with m.If(en):
                m.d.sync += [v2.eq(valid), l2.eq(last), t2.eq(tag)]
            valid, last, tag = v2, l2, t2

        # Slice accumulator: |partial| <= d * 2^(2w-2), fits score_width.
        partial = Signal(signed(p.score_width))
        total = Signal(signed(p.score_width))
        m.d.comb += total.eq(partial + terms[0])
        with m.If(en):
            m.d.sync += self.o.valid.eq(valid & last)
            with m.If(valid):
                m.d.sync += partial.eq(0)
                with m.If(~last):
                    m.d.sync += partial.eq(total)
                m.d.sync += [self.o.payload.score.eq(total), self.o.payload.tag.eq(tag)]
        return m
