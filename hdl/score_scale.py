"""Score scaling unit: the raw score to the base-2 domain."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["ScoreScale"]


class ScoreScale(wiring.Component):
    """``x = floor(score * scale / 2^(scale_frac - F))``.

    Golden: ``golden.attention.scale_score``. ``scale`` carries the quantisation
    scales, ``1/sqrt(d)`` and ``log2(e)``, so ``x`` is the softmax input in base 2.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{score: s(score_width).0, scale: u(scale_width-scale_frac).scale_frac, tag}``
    o : ``Out(stream.Signature(...))``
        ``{x: s(x_width - F).F, tag}``

    Latency: 2 cycles (registered product, registered shift).
    """

    latency = 2

    def __init__(self, params, tag_shape=0):
        self.params = params
        self.tag_shape = tag_shape
        p = params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "score": signed(p.score_width), "scale": unsigned(p.scale_width),
                "tag": tag_shape}))),
            "o": Out(stream.Signature(data.StructLayout({
                "x": signed(p.x_width), "tag": tag_shape}))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        product = Signal(signed(p.score_x_product_width))
        valid = Signal()
        tag = Signal(self.tag_shape)
        with m.If(en):
            m.d.sync += [product.eq(self.i.payload.score * self.i.payload.scale),
                         valid.eq(self.i.valid), tag.eq(self.i.payload.tag)]
            shifted = (product >> p.x_shift) if p.x_shift >= 0 else (product << -p.x_shift)
            m.d.sync += [self.o.payload.x.eq(shifted), self.o.payload.tag.eq(tag),
                         self.o.valid.eq(valid)]
        return m
