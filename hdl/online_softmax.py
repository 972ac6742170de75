"""Online-softmax state: integer running max, exp weights, rescaled running sum."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .exp2 import Exp2
from .layouts import weight_layout

__all__ = ["OnlineSoftmax"]


class OnlineSoftmax(wiring.Component):
    """Per key: the running max ``M``, the rescale shift, the exp weight and the sum.

    Golden: ``golden.attention.running_max``, ``exp_weights``, ``online_sum``.
    The max is kept an integer (Softermax), ``M = max floor(x) + 1`` over the unmasked
    keys so far, so rescaling the sum and the accumulator by ``2^(M_old - M_new)`` is a
    right shift by ``delta``; a query starts afresh after a key with ``last``.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{x: s(x_width - F).F, masked: 1, last: 1}``, one beat per key.
    o : ``Out(stream.Signature(...))``
        ``{e: u0.E (0 if masked), delta: u(shift_limit), first: 1, last: 1,
        sum: u(sum_width - E - G).(E+G)}``; ``sum`` is the running sum after this key,
        ``first`` marks a query's first key (the accumulator restarts there).

    Latency: :attr:`latency` cycles (max stage, difference stage, exp unit, sum stage).
    """

    #: The exp unit's class; formal harnesses substitute an abstract one.
    exp_unit = Exp2

    def __init__(self, params):
        self.params = params
        p = params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "x": signed(p.x_width), "masked": 1, "last": 1}))),
            "o": Out(stream.Signature(weight_layout(p))),
        })

    @property
    def latency(self):
        return 2 + self.exp_unit.latency + 1    # max, difference, exp unit, sum

    def elaborate(self, platform):
        m = Module()
        p = self.params
        F = p.score_frac_bits
        side = data.StructLayout({"delta": unsigned(p.shift_limit.bit_length()),
                                  "masked": 1, "last": 1})
        m.submodules.exp2 = exp2 = self.exp_unit(p, side)

        # Max stage (registered). The hardware tracks Mf = max floor(x) = M - 1, so
        # n = M - 1 - floor(x) = Mf - floor(x) and delta = Mf_new - Mf_old need no +1.
        # Only the compare-and-select is in the recurrence; the subtractions follow
        # in the next stage.
        run_max = Signal(signed(p.max_width))
        seen = Signal()                  # an unmasked key of this query was seen
        floor_x = Signal(signed(p.max_width))
        new_max = Signal(signed(p.max_width))
        x = self.i.payload.x
        m.d.comb += floor_x.eq(x >> F)
        with m.If(self.i.payload.masked | (seen & (floor_x <= run_max))):
            m.d.comb += new_max.eq(run_max)
        with m.Else():
            m.d.comb += new_max.eq(floor_x)

        a_valid = Signal()
        a_max, a_old, a_floor = (Signal(signed(p.max_width), name=n)
                                 for n in ("a_max", "a_old", "a_floor"))
        a_f = Signal(F)
        a_rescale, a_masked, a_last = Signal(), Signal(), Signal()
        b_valid = Signal()
        en_a = Signal()
        en_b = Signal()
        m.d.comb += [en_b.eq(~b_valid | exp2.i.ready), self.i.ready.eq(en_a)]
        with m.If(en_a):
            m.d.sync += [a_valid.eq(self.i.valid), a_max.eq(new_max), a_old.eq(run_max),
                         a_floor.eq(floor_x), a_f.eq(x[:F]),
                         a_rescale.eq(seen & ~self.i.payload.masked),
                         a_masked.eq(self.i.payload.masked), a_last.eq(self.i.payload.last)]
            with m.If(self.i.valid):
                m.d.sync += run_max.eq(new_max)
                m.d.sync += seen.eq(Mux(self.i.payload.last, 0, seen | ~self.i.payload.masked))

        # Difference stage (registered): delta = Mf_new - Mf_old >= 0 (0 for the first
        # unmasked key); n = Mf_new - floor(x) >= 0. The clamps follow on the way into
        # the exp unit, where the result no longer changes.
        b_delta = Signal(signed(p.max_width + 1))
        b_n = Signal(signed(p.max_width + 1))
        b_f = Signal(F)
        b_masked, b_last = Signal(), Signal()
        m.d.comb += en_a.eq(~a_valid | en_b)
        with m.If(en_b):
            m.d.sync += [b_valid.eq(a_valid), b_delta.eq(Mux(a_rescale, a_max - a_old, 0)),
                         b_n.eq(Mux(a_masked, 0, a_max - a_floor)), b_f.eq(a_f),
                         b_masked.eq(a_masked), b_last.eq(a_last)]
        m.d.comb += [
            exp2.i.valid.eq(b_valid),
            exp2.i.payload.n.eq(Mux(b_n > p.exp_shift_limit, p.exp_shift_limit, b_n)),
            exp2.i.payload.f.eq(b_f),
            exp2.i.payload.tag.delta.eq(Mux(b_delta > p.shift_limit, p.shift_limit, b_delta)),
            exp2.i.payload.tag.masked.eq(b_masked),
            exp2.i.payload.tag.last.eq(b_last),
        ]

        # Sum stage: l = (first ? 0 : l >> delta) + e * 2^G.
        # Bound: l <= max_seq_len * 2^E * 2^G fits sum_width (see AttnParams.sum_width).
        run_sum = Signal(unsigned(p.sum_width))
        first = Signal(init=1)
        tag = exp2.o.payload.tag
        e = Signal(unsigned(p.exp_weight_width))
        m.d.comb += e.eq(Mux(tag.masked, 0, exp2.o.payload.e))
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), exp2.o.ready.eq(en)]
        new_sum = Signal(unsigned(p.sum_width))
        m.d.comb += new_sum.eq(Mux(first, 0, run_sum >> tag.delta) + (e << p.guard_bits))
        with m.If(en):
            m.d.sync += self.o.valid.eq(exp2.o.valid)
            with m.If(exp2.o.valid):
                m.d.sync += [
                    run_sum.eq(new_sum), first.eq(tag.last),
                    self.o.payload.e.eq(e), self.o.payload.delta.eq(tag.delta),
                    self.o.payload.first.eq(first), self.o.payload.last.eq(tag.last),
                    self.o.payload.sum.eq(new_sum),
                ]
        return m
