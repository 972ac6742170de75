"""Final normalisation: ``o = sat_w(round(acc / l))`` by restoring division."""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import out_layout, row_layout
from .replicate import register_copies

__all__ = ["Normalize"]


class Normalize(wiring.Component):
    """Divides each accumulator by the row's sum, rounded half up and saturated.

    Golden: ``golden.attention.normalize``: ``Q = floor(N / D)`` with
    ``N = 2*acc + (2^w + 1)*l`` and ``D = 2*l``, saturated to ``[0, 2^w - 1]``, and
    ``o = Q - 2^(w-1)``, which equals ``sat_w(floor(acc/l + 1/2))``. A row whose keys
    were all masked has ``l = 0`` and outputs 0.

    Each lane has an iterative restoring divider: one cycle to load, ``w`` cycles of
    one quotient bit each (a ``sum_width + 2``-bit compare and subtract), one cycle
    to hand over, so a slice takes ``w + 2`` cycles. Two registered stages in front
    prepare ``N`` and detect ``N < 0`` and ``N >= 2^w * D`` (saturation) while the
    divider works on the previous slice.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{acc: lanes x s.(E+G), sum: u.(E+G), last: 1}`` from :class:`Accumulator`.
    o : ``Out(stream.Signature(...))``
        ``{o: lanes x s(w).0, last: 1}``.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "i": In(stream.Signature(row_layout(params))),
            "o": Out(stream.Signature(out_layout(params))),
        })

    @property
    def cycles_per_slice(self):
        return self.params.data_width + 2

    def elaborate(self, platform):
        m = Module()
        p = self.params
        w = p.data_width
        num_w = p.norm_numerator_width
        den_w = p.sum_width + 1
        rem_w = den_w + 1

        denom = Signal(unsigned(den_w))
        count = Signal(range(w + 1))
        busy = Signal()
        zero_sum = Signal()
        last = Signal()
        lanes = []
        for n in range(p.lanes):
            lanes.append(dict(rem=Signal(unsigned(rem_w), name=f"rem{n}"),
                              low=Signal(unsigned(w), name=f"low{n}"),
                              quot=Signal(unsigned(w), name=f"quot{n}"),
                              sat=Signal(2, name=f"sat{n}")))

        load = Signal()
        en = Signal()
        r_valid = Signal()
        m.d.comb += [load.eq(r_valid & ~busy & (~self.o.valid | self.o.ready)),
                     en.eq(~r_valid | load), self.i.ready.eq(en)]

        # Preparation, two registered stages, so the divider loads without arithmetic
        # and the next slice is prepared while the current one iterates.
        # Stage 1: 2*acc, l*(2^w + 1) and the saturation limit l*(2^w - 1).
        # l*(2^w + 1) and l*(2^w - 1) are registered once per lane: each copy feeds
        # one lane's adder and comparison instead of one register feeding all lanes.
        p_valid, p_last = Signal(), Signal()
        p_sum = Signal(unsigned(p.sum_width))
        l_in = self.i.payload.sum
        lw = Signal(unsigned(p.sum_width + w + 1))
        lim = Signal(unsigned(p.sum_width + w))
        m.d.comb += [lw.eq((l_in << w) + l_in), lim.eq((l_in << w) - l_in)]
        p_lw = register_copies(m, lw, p.lanes, "p_lw", en=en)
        p_lim = register_copies(m, lim, p.lanes, "p_lim", en=en)
        p_acc = [Signal(signed(p.acc_width + 1), name=f"p_acc{n}") for n in range(p.lanes)]
        # Stage 2: N = 2*acc + l*(2^w + 1); N >= 2^w * 2l  <=>  2*acc >= l*(2^w - 1).
        r_last, r_zero = Signal(), Signal()
        r_denom = Signal(unsigned(den_w))
        r_numer = [Signal(signed(num_w), name=f"r_numer{n}") for n in range(p.lanes)]
        r_over = [Signal(name=f"r_over{n}") for n in range(p.lanes)]

        with m.If(en):
            m.d.sync += [p_valid.eq(self.i.valid), p_last.eq(self.i.payload.last),
                         p_sum.eq(l_in)]
            m.d.sync += [a.eq(self.i.payload.acc[n] << 1) for n, a in enumerate(p_acc)]
            m.d.sync += [r_valid.eq(p_valid), r_last.eq(p_last), r_zero.eq(p_sum == 0),
                         r_denom.eq(p_sum << 1)]
            for a, numer, over, lw_n, lim_n in zip(p_acc, r_numer, r_over, p_lw, p_lim):
                m.d.sync += [numer.eq(a + lw_n), over.eq(a >= lim_n)]

        with m.If(load):
            m.d.sync += [denom.eq(r_denom), count.eq(w), busy.eq(1),
                         zero_sum.eq(r_zero), last.eq(r_last)]
            for numer, over, lane in zip(r_numer, r_over, lanes):
                m.d.sync += [
                    lane["rem"].eq(numer >> w), lane["low"].eq(numer[:w]), lane["quot"].eq(0),
                    # sat: bit 0 below range (N < 0), bit 1 above (N >= 2^w * D).
                    lane["sat"].eq(Mux(numer[-1], 1, Mux(over, 2, 0))),
                ]

        # `iterating` is a register (not a decode of `count`), with a copy per lane
        # as that lane's enable.
        iterating = Signal()
        next_iterating = Signal()
        m.d.comb += next_iterating.eq(load | (iterating & (count != 1)))
        m.d.sync += iterating.eq(next_iterating)
        lane_iterating = register_copies(m, next_iterating, p.lanes, "iterating",
                                         reset_less=False)
        with m.If(iterating):
            m.d.sync += count.eq(count - 1)
        for lane, lane_it in zip(lanes, lane_iterating):
            with m.If(lane_it):
                # One subtractor; its sign says whether the divisor fits.
                trial = Cat(lane["low"][w - 1], lane["rem"])
                diff = Signal(signed(rem_w + 2))
                m.d.comb += diff.eq(trial - denom)
                fits = ~diff[-1]
                m.d.sync += [lane["rem"].eq(Mux(fits, diff, trial)),
                             lane["low"].eq(lane["low"] << 1),
                             lane["quot"].eq(Cat(fits, lane["quot"]))]

        with m.If(busy & ~iterating):
            m.d.sync += [busy.eq(0), self.o.valid.eq(1), self.o.payload.last.eq(last)]
            for n, lane in enumerate(lanes):
                q = Mux(lane["sat"][0], 0, Mux(lane["sat"][1], (1 << w) - 1, lane["quot"]))
                m.d.sync += self.o.payload.o[n].eq(Mux(zero_sum, 0, q - (1 << (w - 1))))
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m
