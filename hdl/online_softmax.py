"""Online-softmax state: integer running max, exp weights, rescaled running sum."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .exp2 import Exp2
from .layouts import weight_layout
from .replicate import KEEP

__all__ = ["OnlineSoftmax"]


def _clamp(x, limit):
    """``min(x, limit)`` for ``x >= 0``, as a few LUTs rather than a carry-chain compare:
    ``x > limit`` when a bit above ``limit``'s width is set, or else its low bits are."""
    k = limit.bit_length()
    over = x.as_unsigned()[k:].any() | (x.as_unsigned()[:k] > limit)
    return Mux(over, limit, x)


class OnlineSoftmax(wiring.Component):
    """Per key: the running max ``M``, the rescale shift, the exp weight and the sum.

    Golden: ``attnhw.golden.attention.running_max``, ``exp_weights``, ``online_sum``.
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

    Parameters
    ----------
    params : AttnParams
    key_spacing : int
        Cycles between keys that the user guarantees, with ``o.ready`` tied high (as in
        :class:`AttentionCore`, where a key is ``slices`` beats). From 2 on, the sum
        recurrence ``l = (l >> delta) + e`` gets two cycles (the shift, registered,
        then the add; from 3 on three, the shift in two parts) and the max recurrence
        two (the compare, registered, then the select). With 1 (the default), any
        spacing and backpressure are allowed and both recurrences are one cycle.

    Latency: :attr:`latency` cycles (compare stage when split, max stage, difference
    stage, clamp stage, exp unit, sum stage(s)).
    """

    #: The exp unit's class; formal harnesses substitute an abstract one.
    exp_unit = Exp2

    def __init__(self, params, key_spacing=1):
        self.params = params
        self.key_spacing = key_spacing
        p = params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "x": signed(p.x_width), "masked": 1, "last": 1}))),
            "o": Out(stream.Signature(weight_layout(p))),
        })

    @property
    def latency(self):
        # (compare,) max, difference, clamp, exp unit, (shift,) sum
        return 3 + self._split_max + self.exp_unit.latency + self._sum_stages

    @property
    def _split_max(self):
        return int(self.key_spacing >= 2)

    @property
    def _sum_stages(self):
        return min(self.key_spacing, 3)

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
        # in the next stage. With keys >= 2 cycles apart, the compare has a stage of
        # its own (z) and the select follows; the next key compares with the new max.
        run_max = Signal(signed(p.max_width))
        seen = Signal()                  # an unmasked key of this query was seen
        x = self.i.payload.x
        floor_x = Signal(signed(p.max_width))
        m.d.comb += floor_x.eq(x >> F)
        en_a = Signal()
        src = dict(valid=self.i.valid, floor=floor_x, f=x[:F], seen=seen,
                   masked=self.i.payload.masked, last=self.i.payload.last)
        if self._split_max:
            # The compare in halves, each a short carry chain, combined in the select
            # stage: floor <= max <=> hi < max_hi or (hi == max_hi and lo <= max_lo),
            # the high halves signed, the low halves unsigned.
            h = p.max_width // 2
            # The compare reads its own copy of the running max (loaded with it), so
            # its carry chains are not on the net that feeds every use of the max.
            max_copy = Signal(signed(p.max_width), name="run_max_cmp", attrs=KEEP)
            fx, rm = floor_x.as_unsigned(), max_copy.as_unsigned()
            src |= dict(hi_lt=fx[h:].as_signed() < rm[h:].as_signed(),
                        hi_eq=fx[h:] == rm[h:], lo_le=fx[:h] <= rm[:h])
            z = {k: Signal.like(v, name=f"z_{k}") if isinstance(v, Signal) else
                 Signal(len(v), name=f"z_{k}") for k, v in src.items()}
            en_z = Signal()
            m.d.comb += [en_z.eq(~z["valid"] | en_a), self.i.ready.eq(en_z)]
            with m.If(en_z):
                m.d.sync += [z[k].eq(v) for k, v in src.items()]
            seen_en = en_z & self.i.valid
            src = z
            src["keep"] = z["masked"] | (z["seen"] & (z["hi_lt"] | (z["hi_eq"] & z["lo_le"])))
        else:
            src["keep"] = self.i.payload.masked | (seen & (floor_x <= run_max))
            m.d.comb += self.i.ready.eq(en_a)
            seen_en = en_a & self.i.valid
        with m.If(seen_en):
            m.d.sync += seen.eq(Mux(self.i.payload.last, 0, seen | ~self.i.payload.masked))
        new_max = Signal(signed(p.max_width))
        m.d.comb += new_max.eq(Mux(src["keep"], run_max, src["floor"]))

        a_valid = Signal()
        a_max, a_old, a_floor = (Signal(signed(p.max_width), name=n)
                                 for n in ("a_max", "a_old", "a_floor"))
        a_f = Signal(F)
        a_rescale, a_masked, a_last = Signal(), Signal(), Signal()
        b_valid = Signal()
        en_b = Signal()
        with m.If(en_a):
            m.d.sync += [a_valid.eq(src["valid"]), a_max.eq(new_max), a_old.eq(run_max),
                         a_floor.eq(src["floor"]), a_f.eq(src["f"]),
                         a_rescale.eq(src["seen"] & ~src["masked"]),
                         a_masked.eq(src["masked"]), a_last.eq(src["last"])]
            with m.If(src["valid"]):
                m.d.sync += run_max.eq(new_max)
                if self._split_max:
                    m.d.sync += max_copy.eq(new_max)

        # Difference stage (registered): delta = Mf_new - Mf_old >= 0 (0 for the first
        # unmasked key); n = Mf_new - floor(x) >= 0. The clamps follow in a stage of
        # their own, where the result no longer changes.
        b_delta = Signal(signed(p.max_width + 1))
        b_n = Signal(signed(p.max_width + 1))
        b_f = Signal(F)
        b_masked, b_last = Signal(), Signal()
        m.d.comb += en_a.eq(~a_valid | en_b)
        with m.If(en_b):
            m.d.sync += [b_valid.eq(a_valid), b_delta.eq(Mux(a_rescale, a_max - a_old, 0)),
                         b_n.eq(Mux(a_masked, 0, a_max - a_floor)), b_f.eq(a_f),
                         b_masked.eq(a_masked), b_last.eq(a_last)]
        # Clamp stage (registered): the clamps into the exp unit's ranges.
        c_valid = Signal()
        c_in = exp2.i.payload
        c = Signal.like(c_in)
        en_c = Signal()
        m.d.comb += [en_c.eq(~c_valid | exp2.i.ready), en_b.eq(~b_valid | en_c),
                     exp2.i.valid.eq(c_valid), exp2.i.payload.eq(c)]
        with m.If(en_c):
            m.d.sync += [
                c_valid.eq(b_valid),
                c.n.eq(_clamp(b_n, p.exp_shift_limit)),
                c.f.eq(b_f),
                c.tag.delta.eq(_clamp(b_delta, p.shift_limit)),
                c.tag.masked.eq(b_masked),
                c.tag.last.eq(b_last),
            ]

        # Sum stage: l = (first ? 0 : l >> delta) + e * 2^G.
        # Bound: l <= max_seq_len * 2^E * 2^G fits sum_width (see AttnParams.sum_width).
        # With keys >= 2 cycles apart, the shift is registered (stage s) and the add
        # follows a cycle later, with keys >= 3 apart the shift takes two stages; the
        # next key's shift then reads the updated sum.
        run_sum = Signal(unsigned(p.sum_width))
        first = Signal(init=1)
        tag = exp2.o.payload.tag
        e = Signal(unsigned(p.exp_weight_width))
        m.d.comb += e.eq(Mux(tag.masked, 0, exp2.o.payload.e))
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), exp2.o.ready.eq(en)]
        shifted = Signal(unsigned(p.sum_width))
        stages = self._sum_stages
        # With three stages, the first shifts by the multiple of 8 in delta, the second
        # by the rest (exact: floor(floor(l / 2^a) / 2^b) = floor(l / 2^(a+b))).
        coarse_by = Cat(C(0, 3), tag.delta[3:]) if stages == 3 else tag.delta
        m.d.comb += shifted.eq(Mux(first, 0, run_sum >> coarse_by))
        if stages >= 2:
            s_valid = Signal()
            s_shifted = Signal(unsigned(p.sum_width))
            s = Signal(weight_layout(p))
            with m.If(en):
                m.d.sync += s_valid.eq(exp2.o.valid)
                with m.If(exp2.o.valid):
                    m.d.sync += [s_shifted.eq(shifted), first.eq(tag.last),
                                 s.e.eq(e), s.delta.eq(tag.delta), s.first.eq(first),
                                 s.last.eq(tag.last)]
            if stages == 3:
                s2_valid = Signal()
                s2_shifted = Signal(unsigned(p.sum_width))
                s2 = Signal(weight_layout(p))
                with m.If(en):
                    m.d.sync += [s2_valid.eq(s_valid), s2.eq(s),
                                 s2_shifted.eq(s_shifted >> s.delta[:3])]
                s_valid, s_shifted, s = s2_valid, s2_shifted, s2
            add_valid, add_in, add_e = s_valid, s_shifted, s.e
            side = [self.o.payload.e.eq(s.e), self.o.payload.delta.eq(s.delta),
                    self.o.payload.first.eq(s.first), self.o.payload.last.eq(s.last)]
        else:
            add_valid, add_in, add_e = exp2.o.valid, shifted, e
            side = [first.eq(tag.last), self.o.payload.e.eq(e),
                    self.o.payload.delta.eq(tag.delta), self.o.payload.first.eq(first),
                    self.o.payload.last.eq(tag.last)]
        new_sum = Signal(unsigned(p.sum_width))
        m.d.comb += new_sum.eq(add_in + (add_e << p.guard_bits))
        with m.If(en):
            m.d.sync += self.o.valid.eq(add_valid)
            with m.If(add_valid):
                m.d.sync += [run_sum.eq(new_sum), self.o.payload.sum.eq(new_sum), *side]
        return m
