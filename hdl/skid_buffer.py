"""Skid buffer: a stream register whose ``ready`` is a flip-flop."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .replicate import KEEP

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """Passes a stream through one register stage, with a spare register that catches
    the beat accepted while the output was stalled. ``i.ready`` and ``o.valid`` come
    straight from flip-flops, so backpressure does not ripple combinationally through
    the pipelines on either side (which otherwise limits Fmax).

    Parameters
    ----------
    shape : ShapeLike
        Payload shape.
    ready_copies : int
        How many equal flip-flops hold the spare's state: ``ready_copies[n]`` equals
        ``i.ready``, each from its own flip-flop, for a source that enables a wide
        register with ``i.ready`` (one copy per share of it, placed beside it).

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``

    Latency: 1 cycle. Throughput: one beat per cycle.
    """

    latency = 1

    def __init__(self, shape, *, ready_copies=1):
        self.shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})
        self.ready_copies = [Signal(name=f"ready_copy{n}") for n in range(ready_copies)]

    def elaborate(self, platform):
        m = Module()
        spare = Signal(self.shape)
        # `fulls`: equal flip-flops, the spare holds a beat; fulls[0] drives the logic here.
        fulls = [Signal(name=f"full{n}", attrs=KEEP) for n in range(len(self.ready_copies))]
        full = fulls[0]
        m.d.comb += self.i.ready.eq(~full)
        m.d.comb += [copy.eq(~f) for copy, f in zip(self.ready_copies, fulls)]
        with m.If(~self.o.valid | self.o.ready):
            with m.If(full):
                m.d.sync += [self.o.payload.eq(spare), self.o.valid.eq(1)]
                m.d.sync += [f.eq(0) for f in fulls]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~full):
            m.d.sync += spare.eq(self.i.payload)
            m.d.sync += [f.eq(1) for f in fulls]
        return m
