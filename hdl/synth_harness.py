"""Out-of-context synthesis harness: the core's ~hundreds of port bits reach only
three pins, so any FPGA package can hold it while no logic is optimised away."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import AttentionCore

__all__ = ["SynthHarness"]


class SynthHarness(wiring.Component):
    """Every core input (payloads, valids, the output's ready) is a bit of one shift
    register fed from ``din``; every core output is XOR-reduced into ``dout``.

    :attr:`harness_ffs` flip-flops belong to the harness, not the core; reports
    subtract them. The XOR tree adds roughly ``outputs / 3`` LUTs.
    """

    din: In(1)
    dout: Out(1)

    def __init__(self, params):
        self.params = params
        self.core = AttentionCore(params)
        c = self.core
        self._inputs = [c.q.payload, c.q.valid, c.kv.payload, c.kv.valid, c.o.ready]
        self._outputs = [c.q.ready, c.kv.ready, c.o.payload, c.o.valid]
        self.harness_ffs = len(Cat(*self._inputs)) + 1
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        chain = Cat(*self._inputs)
        shift = Signal(len(chain))
        m.d.sync += shift.eq(Cat(self.din, shift[:-1]))
        m.d.comb += chain.eq(shift)
        m.d.sync += self.dout.eq(Cat(*self._outputs).xor())
        return m
