"""One multiplier for every unit: registered in and out, mapped onto a hard DSP."""

from amaranth.hdl import ClockSignal, Const, Instance, Module, ResetSignal, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Multiplier", "fits_mult18"]


def fits_mult18(shape):
    """Whether an operand of ``shape`` fits one port of an ECP5 MULT18X18D (18 bits
    signed, so an unsigned operand may have 17)."""
    shape = Shape.cast(shape)
    return shape.width <= (18 if shape.signed else 17)


class Multiplier(wiring.Component):
    """``p = a * b``, exact, with a register on the operands and one on the product.

    In simulation and in generic Verilog it is a registered ``*``: Vivado and Quartus
    absorb both registers into their DSP blocks. Elaborated for a platform whose
    ``family`` is ``"ecp5"`` (Amaranth's ``LatticeECP5Platform``, or
    :data:`attnhw.synth`'s ECP5 flow), it is one ``MULT18X18D`` with its input and
    output registers on (``REG_INPUTA/B_CLK``, ``REG_OUTPUT_CLK``), which Yosys's own
    DSP inference never uses: nextpnr then times 0.5 ns clock-to-out instead of
    ~3 ns through the array. Operands wider than one DSP port (see
    :func:`fits_mult18`) fall back to the registered ``*`` everywhere.

    Parameters
    ----------
    a_shape, b_shape : ShapeLike
        Operand shapes.

    Members
    -------
    a : ``In(a_shape)``, b : ``In(b_shape)``
    en : ``In(1)``, init 1
        Clock enable of both registers (the DSP's ``CE0``).
    p : ``Out(shape of a * b)``
        The product as Amaranth's ``*`` shapes it, :attr:`latency` cycles after its
        operands were sampled with ``en`` high.

    Latency: 2 cycles.
    """

    latency = 2

    def __init__(self, a_shape, b_shape):
        self.a_shape, self.b_shape = Shape.cast(a_shape), Shape.cast(b_shape)
        p_shape = (Signal(self.a_shape) * Signal(self.b_shape)).shape()
        super().__init__({"a": In(self.a_shape), "b": In(self.b_shape),
                          "en": In(1, init=1), "p": Out(p_shape)})

    @property
    def uses_dsp(self):
        """Both operands fit one MULT18X18D."""
        return fits_mult18(self.a_shape) and fits_mult18(self.b_shape)

    def elaborate(self, platform):
        m = Module()
        if getattr(platform, "family", None) == "ecp5" and self.uses_dsp:
            a = Signal(18)
            b = Signal(18)
            product = Signal(36)
            m.d.comb += [a.eq(self.a.as_signed() if self.a_shape.signed else self.a),
                         b.eq(self.b.as_signed() if self.b_shape.signed else self.b),
                         self.p.eq(product)]
            ports = {f"i_A{n}": a[n] for n in range(18)}
            ports |= {f"i_B{n}": b[n] for n in range(18)}
            ports |= {f"i_C{n}": Const(0) for n in range(18)}
            ports |= {f"o_P{n}": product[n] for n in range(36)}
            m.submodules.dsp = Instance(
                "MULT18X18D",
                p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0",
                p_REG_PIPELINE_CLK="NONE", p_REG_OUTPUT_CLK="CLK0",
                p_REG_INPUTA_CE="CE0", p_REG_INPUTB_CE="CE0", p_REG_OUTPUT_CE="CE0",
                p_REG_INPUTA_RST="RST0", p_REG_INPUTB_RST="RST0", p_REG_OUTPUT_RST="RST0",
                p_CLK0_DIV="ENABLED", p_GSR="DISABLED", p_RESETMODE="SYNC",
                # The operands are sign- or zero-extended to 18 bits above, so both
                # ports are always signed.
                i_SIGNEDA=Const(1), i_SIGNEDB=Const(1), i_SOURCEA=Const(0), i_SOURCEB=Const(0),
                i_CLK0=ClockSignal(), i_CE0=self.en, i_RST0=ResetSignal(),
                **ports)
        else:
            a = Signal(self.a_shape)
            b = Signal(self.b_shape)
            with m.If(self.en):
                m.d.sync += [a.eq(self.a), b.eq(self.b), self.p.eq(a * b)]
        return m
