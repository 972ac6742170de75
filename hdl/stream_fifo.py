"""A FIFO with stream ports for structured beats."""

from amaranth.hdl import Module, Shape
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """First in, first out, for beats of ``shape`` (a layout), its output registered
    (``SyncFIFOBuffered``), so it connects to stream ports with ``wiring.connect``.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``
    level : ``Out(range(depth + 1))``
        Beats held, as the write side counts them.

    Latency: :attr:`latency` cycles from a beat taken on ``i`` to it offered on ``o``.
    """

    latency = 2

    def __init__(self, shape, depth):
        self.shape, self.depth = shape, depth
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape)),
                          "level": Out(range(depth + 1))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=Shape.cast(self.shape).width,
                                                    depth=self.depth)
        m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid),
                     self.i.ready.eq(fifo.w_rdy),
                     self.o.payload.eq(fifo.r_data), self.o.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(self.o.ready), self.level.eq(fifo.w_level)]
        return m
