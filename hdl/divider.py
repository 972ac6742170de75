"""One bank of the normaliser's lane dividers: non-restoring, one quotient bit per one
or two cycles."""

from amaranth.hdl import C, Cat, Mux, Signal, signed, unsigned

from .layouts import out_layout
from .replicate import KEEP, register_tree

__all__ = ["divider_bank"]


def divider_bank(m, p, name, *, load, ahead, lane_load, numer, over, zero, last,
                 denom, ndenom, split=True):
    """``lanes`` dividers ``Q = floor(N / D)`` (``attnhw.golden.attention.normalize``), one
    quotient bit per two cycles (``split``) or per cycle; returns
    ``(finish, result)``: ``result`` (an ``out_layout`` value, saturated and offset as
    ``Normalize`` gives it) is valid while ``finish`` is high, ``2 * w + 1`` cycles
    after ``load`` (``w + 1`` unsplit).

    Each step is ``r' = 2r + bit -+ D`` (non-restoring: ``r`` stays negative instead
    of being restored and the next step adds ``D`` back, so the quotient bits,
    ``r' >= 0``, are the restoring ones), a ``sum_width + 4``-bit addition whose sign
    chooses the next step's operation. Its carry chain is split in two halves with a
    registered carry: in the first cycle the low half and the chosen high addend, in
    the second the high half and the sign. So no path holds more than half a chain,
    and the sign's copies (three per lane, each choosing a third of the addend) are
    read only by the first cycle's selects. Unsplit (for slow targets, where the
    whole chain fits a cycle: iCE40) each step is one cycle and one register of the
    bank enables every lane.

    Parameters
    ----------
    load : Value
        The bank takes a slice (the bank's own control, loaded once).
    ahead : Value or None
        ``load`` two cycles early: it feeds the per-lane register trees (``split``;
        unused, may be ``None``, unsplit).
    lane_load : list of Value
        ``load``, one copy per lane (each lane's load enable).
    numer : list of Value
        ``N`` per lane, ``s(norm_numerator_width)``, valid with ``load``.
    over : list of Value
        Per lane ``N >= 2^w * D`` (saturates high); ``N < 0`` (saturates low) is
        ``numer``'s sign.
    zero, last : Value
        The row's sum is 0 (the output is 0); the slice ends its row.
    denom, ndenom : list of Value
        ``D = 2 * sum`` (``u(sum_width + 1)``) and ``-D``, one copy per 4 lanes.
    split : bool
        Two cycles per step, the carry chain cut in halves (the default), or one.
    """
    L, w = p.lanes, p.out_width            # quotient bits: the output element's
    den_w = p.sum_width + 1
    rem_w = den_w + 1
    width = rem_w + 2                       # the step's sum, sign included
    half = width // 2

    # Control: `a` and `b`, the two cycles of each step (unsplit: `a` alone, `b` is
    # `a`); `count`, bits left.
    count = Signal(range(w + 1), name=f"{name}_count")
    a, finish = (Signal(name=f"{name}_{x}") for x in ("a", "finish"))
    b = Signal(name=f"{name}_b") if split else a
    zero_sum, row_last = Signal(name=f"{name}_zero"), Signal(name=f"{name}_last")
    count_next = Mux(load, w, Mux(b, count - 1, count))
    m.d.sync += [a.eq(load | (b & (count != 1))), finish.eq(b & (count == 1)),
                 count.eq(count_next)]
    if split:
        m.d.sync += b.eq(a)
    with m.If(load):
        m.d.sync += [zero_sum.eq(zero), row_last.eq(last)]
    if split:
        # Per lane, `a` through a two-level register tree, fed two cycles ahead: a(t)
        # is load(t-1) | (a(t-2) & count(t-1) != 1), and count(t-1) is count_next at t-2.
        lane_a = register_tree(m, ahead | (a & (count_next != 1)), L, f"{name}_a",
                               reset_less=False)

    # The divisor and its negation, held per group of 4 lanes (loaded with the
    # group's first lane): each bit selects into 4 lanes' adders.
    group_d, group_nd = [], []
    for g in range(-(-L // 4)):
        group_d.append(Signal(unsigned(den_w), name=f"{name}_denom_g{g}", attrs=KEEP))
        group_nd.append(Signal(signed(den_w + 1), name=f"{name}_ndenom_g{g}", attrs=KEEP))
        with m.If(lane_load[4 * g]):
            m.d.sync += [group_d[g].eq(denom[g]), group_nd[g].eq(ndenom[g])]

    result = Signal(out_layout(p))
    m.d.comb += result.last.eq(row_last)
    for n in range(L):
        rem = Signal(signed(rem_w + 1), name=f"{name}_rem{n}")
        neg = [Signal(name=f"{name}_neg{n}_{k}", attrs=KEEP) for k in range(3)]
        low = Signal(unsigned(w), name=f"{name}_low{n}")
        quot = Signal(unsigned(w), name=f"{name}_quot{n}")
        sat = Signal(2, name=f"{name}_sat{n}")
        lane_d, lane_nd = group_d[n // 4], group_nd[n // 4]
        with m.If(lane_load[n]):
            m.d.sync += [
                rem.eq(numer[n] >> w), low.eq(numer[n][:w]), quot.eq(0),
                *(x.eq(0) for x in neg),
                # sat: bit 0 below range (N < 0), bit 1 above (N >= 2^w * D).
                sat.eq(Mux(numer[n][-1], 1, Mux(over[n], 2, 0))),
            ]
        trial = Cat(low[w - 1], rem)                             # 2r + bit, `width` bits
        pos = Cat(lane_d, C(0, 1))
        addend = Signal(signed(width), name=f"{name}_addend{n}")
        m.d.comb += addend.eq(Cat(*(Mux(neg[k * 3 // (den_w + 1)], pos[k], lane_nd[k])
                                    for k in range(den_w + 1))).as_signed())
        step = Signal(width, name=f"{name}_step{n}")             # 2r + bit -+ D
        if split:
            lo = Signal(half + 1, name=f"{name}_lo{n}")          # low half, carry on top
            add_hi = Signal(width - half, name=f"{name}_add_hi{n}", attrs=KEEP)
            lane_b = Signal(name=f"{name}_b{n}")
            m.d.sync += lane_b.eq(lane_a[n])
            with m.If(lane_a[n]):
                m.d.sync += [lo.eq(trial[:half] + addend[:half]), add_hi.eq(addend[half:])]
            m.d.comb += step.eq(Cat(lo[:half], trial[half:] + add_hi + lo[half]))
        else:
            lane_b = a
            m.d.comb += step.eq(trial + addend)
        sign = step[-1]
        with m.If(lane_b):
            m.d.sync += [rem.eq(step), *(x.eq(sign) for x in neg),
                         low.eq(low << 1), quot.eq(Cat(~sign, quot))]
        q = Mux(sat[0], 0, Mux(sat[1], (1 << w) - 1, quot))
        m.d.comb += result.o[n].eq(Mux(zero_sum, 0, q - (1 << (w - 1))))
    return finish, result
