"""Out-of-context synthesis harness: a unit's ~hundreds of port bits reach only
three pins, so any FPGA package can hold it while no logic is optimised away."""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.accumulator import Accumulator
from hdl.core import AttentionCore
from hdl.dot_product import DotProduct
from hdl.exp2 import Exp2
from hdl.normalize_recip import normalizer
from hdl.online_softmax import OnlineSoftmax
from hdl.score_scale import ScoreScale

__all__ = ["SynthHarness", "UNITS", "unit_component"]

#: The core's units in datapath order, each as it is built inside the core for
#: ``params`` (side-band tags reduced to one bit), for synthesis on their own.
UNITS = {
    "dot_product": lambda p: DotProduct(p, 1),
    "score_scale": lambda p: ScoreScale(p, 1),
    "online_softmax": OnlineSoftmax,        # includes the exp unit
    "exp2": lambda p: Exp2(p, 1),
    "accumulator": Accumulator,
    "normalize": normalizer,
}


def unit_component(p, name):
    """A fresh instance of the unit ``name`` (a key of :data:`UNITS`) for ``p``."""
    if name not in UNITS:
        raise ValueError(f"unknown unit {name!r}; choose one of {', '.join(UNITS)}")
    return UNITS[name](p)


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
