"""Out-of-context synthesis harness: a unit's ~hundreds of port bits reach only
three pins, so any FPGA package can hold it while no logic is optimised away."""

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from attnhw.golden.errors import InputError

from .accumulator import Accumulator
from .core import AttentionCore
from .dot_product import DotProduct
from .exp2 import Exp2
from .normalize_recip import normalizer
from .online_softmax import OnlineSoftmax
from .out_proj import OutProjection
from .score_scale import ScoreScale

__all__ = ["SynthHarness", "UNITS", "ENGINE_UNITS", "READY_TIED", "unit_component"]

#: The core's units in datapath order, each as it is built inside the core for
#: ``params`` (side-band tags reduced to one bit), for synthesis on their own.
UNITS = {
    "dot_product": lambda p: DotProduct(p, 1),
    "score_scale": lambda p: ScoreScale(p, 1, key_spacing=p.slices),
    # Includes the exp unit; the core's keys are `slices` cycles apart.
    "online_softmax": lambda p: OnlineSoftmax(p, key_spacing=p.slices),
    "exp2": lambda p: Exp2(p, 1),
    "accumulator": Accumulator,
    "normalize": normalizer,
}


#: Units whose output ``ready`` the core ties high (the score pipeline never stalls;
#: attnhw.hdl.core's weight-FIFO credits): synthesised alone with it tied high too.
READY_TIED = {"dot_product", "score_scale", "online_softmax", "exp2"}


def _out_proj(p):
    if p.out_proj is None:
        raise InputError("the unit out_proj needs --out-features (and the projection's "
                         "other flags)")
    return OutProjection(p, p.out_proj)


#: Units of the engine beside the core, built as the engine builds them for ``params``
#: (not in ``make fmax-budget``, whose parameters have no projection).
ENGINE_UNITS = {"out_proj": _out_proj}


def unit_component(p, name):
    """A fresh instance of the unit ``name`` (a key of :data:`UNITS` or
    :data:`ENGINE_UNITS`) for ``p``."""
    units = {**UNITS, **ENGINE_UNITS}
    if name not in units:
        raise InputError(f"unknown unit {name!r}; choose one of {', '.join(units)}")
    return units[name](p)


class SynthHarness(wiring.Component):
    """Every input port of ``unit`` (payloads, valids, readies) is a bit of one shift
    register fed from ``din``; every output port is XOR-reduced into ``dout``.

    ``unit`` defaults to the whole :class:`AttentionCore` for ``params``; the accuracy
    report and the Fmax budget pass single units to cost them alone, with
    ``tie_ready`` for those the core runs with ``ready`` tied high (:data:`READY_TIED`).
    :attr:`harness_ffs` flip-flops belong to the harness, not the unit; reports
    subtract them. The pipelined XOR tree adds roughly ``outputs / 3`` LUTs.
    """

    din: In(1)
    dout: Out(1)

    def __init__(self, params, unit=None, *, tie_ready=False):
        self.params = params
        self.unit = AttentionCore(params) if unit is None else unit
        ports = [(m.flow, Value.cast(v)) for _, m, v in self.unit.signature.flatten(self.unit)]
        # `tie_ready`: the unit's `o.ready` is 1, as inside the core (READY_TIED).
        self._tied = [Value.cast(self.unit.o.ready)] if tie_ready else []
        self._inputs = [v for flow, v in ports if flow == wiring.In
                        and not any(v is t for t in self._tied)]
        self._outputs = [v for flow, v in ports if flow == wiring.Out]
        self._xor_levels = self._xor_tree_sizes(len(Cat(*self._outputs)))
        self.harness_ffs = len(Cat(*self._inputs)) + sum(self._xor_levels)
        super().__init__()

    @staticmethod
    def _xor_tree_sizes(bits):
        """Register counts of the output reduction: every output bit registered, then
        XORed four at a time (one LUT4) per registered level, down to ``dout``."""
        sizes = [bits]
        while sizes[-1] > 1 or len(sizes) == 1:
            sizes.append(-(-sizes[-1] // 4))
        return sizes

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = self.unit
        chain = Cat(*self._inputs)
        shift = Signal(len(chain))
        m.d.sync += shift.eq(Cat(self.din, shift[:-1]))
        m.d.comb += chain.eq(shift)
        m.d.comb += [t.eq(1) for t in self._tied]
        # The outputs are registered and reduced by a pipelined XOR tree, so no path
        # through the harness is longer than one LUT: the unit's own paths are timed.
        level = Signal(self._xor_levels[0], name="out_reg")
        m.d.sync += level.eq(Cat(*self._outputs))
        for n, size in enumerate(self._xor_levels[1:]):
            nxt = Signal(size, name=f"xor{n}") if size > 1 else self.dout
            m.d.sync += nxt.eq(Cat(level[i:i + 4].xor() for i in range(0, len(level), 4)))
            level = nxt
        return m
