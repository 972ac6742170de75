"""Skid buffer: a stream register whose ``ready`` is a flip-flop."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

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

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``

    Latency: 1 cycle. Throughput: one beat per cycle.
    """

    latency = 1

    def __init__(self, shape):
        self.shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        spare = Signal(self.shape)
        full = Signal()
        m.d.comb += self.i.ready.eq(~full)
        with m.If(~self.o.valid | self.o.ready):
            with m.If(full):
                m.d.sync += [self.o.payload.eq(spare), self.o.valid.eq(1), full.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~full):
            m.d.sync += [spare.eq(self.i.payload), full.eq(1)]
        return m
