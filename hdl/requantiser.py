"""One requantiser of the output projection: a sum in the accumulator's scale to an
output word."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .multiplier import Multiplier
from .pipeline import delay

__all__ = ["Requantiser", "SHIFT_BITS"]

SHIFT_BITS = 6          # sh <= max_shift = 62


class Requantiser(wiring.Component):
    """``y = sat(floor((x·M + 2^(sh-1)) / 2^sh))``, as
    :func:`attnhw.golden.out_proj.requantise` defines it: a pipeline that takes one
    operand set per cycle and never stalls.

    It computes ``floor((floor(2·x·M / 2^sh) + 1) / 2)``, which also holds for
    ``sh = 0``. ``x·M`` is two DSP-sized products, ``x``'s low ``min(17, acc_width - 1)``
    bits (unsigned) and its high part (signed), summed a cycle later; the shift of
    ``2·x·M`` runs in two steps (``sh``'s high bits, then its low three), then the
    rounding, then the saturation.

    Parameters
    ----------
    acc_width : int
        Width of ``x``, ``s(acc_width).0``.
    mult_bits : int
        Width of ``M``, ``u(mult_bits).0``.
    out_width : int
        Width of ``y``, ``s(out_width).0``.

    Members
    -------
    x : ``In(signed(acc_width))``
    M : ``In(unsigned(mult_bits))``
    sh : ``In(unsigned(SHIFT_BITS))``
        The operands, all sampled in the same cycle.
    y : ``Out(signed(out_width))``
        The result, :attr:`latency` cycles after its operands.
    """

    #: The two multipliers (2), their sum, the shift in two steps, the rounding, the
    #: saturation.
    latency = 7

    def __init__(self, acc_width, mult_bits, out_width):
        self.acc_width, self.mult_bits, self.out_width = acc_width, mult_bits, out_width
        super().__init__({"x": In(signed(acc_width)), "M": In(unsigned(mult_bits)),
                          "sh": In(unsigned(SHIFT_BITS)), "y": Out(signed(out_width))})

    def elaborate(self, platform):
        m = Module()
        aw, mb, ow = self.acc_width, self.mult_bits, self.out_width
        low_bits = min(17, aw - 1)
        m.submodules.lo = lo = Multiplier(unsigned(low_bits), unsigned(mb))
        m.submodules.hi = hi = Multiplier(signed(aw - low_bits), unsigned(mb))
        m.d.comb += [lo.a.eq(self.x[:low_bits]), hi.a.eq(self.x[low_bits:]),
                     lo.b.eq(self.M), hi.b.eq(self.M)]
        product = Signal(signed(aw + mb + 1))                                  # +3
        m.d.sync += product.eq((hi.p << low_bits) + lo.p)
        sh = delay(m, 1, self.sh, Multiplier.latency + 1, "sh")
        sh4 = delay(m, 1, sh, 1, "sh4")
        # The shift of 2·x·M in two steps: by sh's high bits (+4), its low three (+5);
        # then round (+6) and saturate (+7).
        coarse = Signal(signed(len(product) + 1))
        m.d.sync += coarse.eq(Cat(Const(0, 1), product).as_signed() >> (sh[3:] << 3))
        halved = Signal(signed(len(coarse)))
        m.d.sync += halved.eq(coarse >> sh4[:3])
        rounded = Signal(signed(len(coarse)))
        # Saturation from the bits above the output's sign: all equal to the sign (the
        # value fits) or not, which side by the sign. A wide AND/OR, not the carry
        # chains of `rounded > hi` (nextpnr: 8.25 ns, the worst path at seed 2).
        high = rounded[ow - 1:]
        fits = Mux(rounded[-1], high.all(), ~high.any())
        y_max, y_min = (1 << (ow - 1)) - 1, -(1 << (ow - 1))
        m.d.sync += [rounded.eq((halved + 1) >> 1),
                     self.y.eq(Mux(fits, rounded[:ow], Mux(rounded[-1], y_min, y_max)))]
        return m
