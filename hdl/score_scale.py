"""Score scaling unit: the raw score to the base-2 domain."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .multiplier import Multiplier

__all__ = ["ScoreScale"]

# Operand chunk width: a 17-bit unsigned chunk (or a signed top chunk of up to 18 bits)
# fits one 18x18 DSP multiplier (ECP5 MULT18X18D) with a registered output.
CHUNK = 17


def _chunks(width, is_signed):
    """(lsb, width, signed) chunks of an operand, the top one signed if the operand is."""
    out, lsb = [], 0
    while width - lsb > CHUNK + (1 if is_signed else 0):
        out.append((lsb, CHUNK, False))
        lsb += CHUNK
    out.append((lsb, width - lsb, is_signed))
    return out


class ScoreScale(wiring.Component):
    """``x = floor(score * scale / 2^(scale_frac - F))``.

    Golden: ``attnhw.golden.attention.scale_score``. ``scale`` carries the quantisation
    scales, ``1/sqrt(d)`` and ``log2(e)``, so ``x`` is the softmax input in base 2.
    The wide product is built from registered DSP-sized partial products summed in
    a registered adder tree, so no stage holds more than one multiplier or one adder.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{score: s(score_width).0, scale: u(scale_width-scale_frac).scale_frac, tag}``
    o : ``Out(stream.Signature(...))``
        ``{x: s(x_width - F).F, tag}``

    Latency: :attr:`latency` cycles (operands and partial products in
    :class:`~attnhw.hdl.multiplier.Multiplier`, adder tree, shift).
    """

    def __init__(self, params, tag_shape=0):
        self.params = params
        self.tag_shape = tag_shape
        p = params
        self._a = _chunks(p.score_width, True)
        self._b = _chunks(p.scale_width, False)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "score": signed(p.score_width), "scale": unsigned(p.scale_width),
                "tag": tag_shape}))),
            "o": Out(stream.Signature(data.StructLayout({
                "x": signed(p.x_width), "tag": tag_shape}))),
        })

    @property
    def tree_levels(self):
        return (len(self._a) * len(self._b) - 1).bit_length()

    @property
    def latency(self):
        return Multiplier.latency + self.tree_levels + 1

    def elaborate(self, platform):
        m = Module()
        p = self.params
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        def stage(valid, tag):
            v, t = Signal(), Signal(self.tag_shape)
            with m.If(en):
                m.d.sync += [v.eq(valid), t.eq(tag)]
            return v, t

        # Stages 1-2: partial products a_i * b_j, each one registered
        # :class:`Multiplier` (one DSP with its own operand and product registers).
        terms = []
        score = self.i.payload.score.as_unsigned()
        for a_lsb, a_w, a_signed in self._a:
            a = score[a_lsb:a_lsb + a_w]
            a = a.as_signed() if a_signed else a
            for b_lsb, b_w, _ in self._b:
                b = self.i.payload.scale[b_lsb:b_lsb + b_w]
                mult = m.submodules[f"pp{a_lsb}_{b_lsb}"] = Multiplier(a.shape(), b.shape())
                m.d.comb += [mult.a.eq(a), mult.b.eq(b), mult.en.eq(en)]
                terms.append((mult.p, a_lsb + b_lsb))
        valid, tag = stage(self.i.valid, self.i.payload.tag)
        valid, tag = stage(valid, tag)

        # Adder tree over (value, weight) pairs, one registered level at a time.
        # A partial sum is not bounded by |score| * scale (a low chunk is unsigned), but
        # by sum_i |a_i| 2^lsb_i * sum_j b_j 2^lsb_j < 2^score_width * 2^scale_width.
        tree_w = p.score_width + p.scale_width + 1
        while len(terms) > 1:
            nxt = []
            for n in range(0, len(terms), 2):
                pair = terms[n:n + 2]
                s = Signal(signed(tree_w), name=f"psum{len(terms)}_{n}")
                low = min(shift for _, shift in pair)
                with m.If(en):
                    m.d.sync += s.eq(sum(v << (shift - low) for v, shift in pair))
                nxt.append((s, low))
            terms = nxt
            valid, tag = stage(valid, tag)
        product, shift0 = terms[0]
        assert shift0 == 0

        # Last stage: x = floor(product / 2^(scale_frac - F)).
        shifted = (product >> p.x_shift) if p.x_shift >= 0 else (product << -p.x_shift)
        with m.If(en):
            m.d.sync += [self.o.payload.x.eq(shifted), self.o.payload.tag.eq(tag),
                         self.o.valid.eq(valid)]
        return m
