"""Out-of-context synthesis harness: a unit's ~hundreds of port bits reach only
three pins, so any FPGA package can hold it while no logic is optimised away."""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import AttentionCore

__all__ = ["SynthHarness"]


class SynthHarness(wiring.Component):
    """Every input port of ``unit`` (payloads, valids, readies) is a bit of one shift
    register fed from ``din``; every output port is XOR-reduced into ``dout``.

    ``unit`` defaults to the whole :class:`AttentionCore` for ``params``; the accuracy
    report passes single units (exp, normaliser) to cost them alone.
    :attr:`harness_ffs` flip-flops belong to the harness, not the unit; reports
    subtract them. The XOR tree adds roughly ``outputs / 3`` LUTs.
    """

    din: In(1)
    dout: Out(1)

    def __init__(self, params, unit=None):
        self.params = params
        self.unit = AttentionCore(params) if unit is None else unit
        ports = [(m.flow, Value.cast(v)) for _, m, v in self.unit.signature.flatten(self.unit)]
        self._inputs = [v for flow, v in ports if flow == wiring.In]
        self._outputs = [v for flow, v in ports if flow == wiring.Out]
        self.harness_ffs = len(Cat(*self._inputs)) + 1
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = self.unit
        chain = Cat(*self._inputs)
        shift = Signal(len(chain))
        m.d.sync += shift.eq(Cat(self.din, shift[:-1]))
        m.d.comb += chain.eq(shift)
        m.d.sync += self.dout.eq(Cat(*self._outputs).xor())
        return m
