"""Score scaling unit: the raw score to the base-2 domain."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
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
    The wide product is built from DSP-sized partial products (``score`` and ``scale``
    cut into chunks of 17 bits). Two ways, with the same result:

    - in parallel (``key_spacing`` below the number of partial products): one
      registered :class:`~attnhw.hdl.multiplier.Multiplier` per partial product,
      summed in a registered adder tree; a score per cycle, stalls with ``o.ready``;
    - in series (``key_spacing`` at least that number, as in the core at
      ``slices >= 4``, where a score arrives once per ``slices`` cycles): one
      Multiplier takes the partial products one per cycle, each added into a
      running sum at its weight; scores must arrive at least ``key_spacing`` cycles
      apart (``i.ready`` is always high) and ``o.ready`` must stay high (the core
      ties it). One DSP instead of four at d 64.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{score: s(score_width).0, scale: u(scale_width-scale_frac).scale_frac, tag}``
    o : ``Out(stream.Signature(...))``
        ``{x: s(x_width - F).F, tag}``

    Parameters
    ----------
    params : AttnParams
    tag_shape : ShapeLike
        Carried beside each score.
    key_spacing : int
        Cycles between scores that the user guarantees, with ``o.ready`` high (1: any
        spacing, backpressure allowed).

    Latency: :attr:`latency` cycles (in parallel: operands and partial products in
    the Multipliers, adder tree, shift; in series: the operands held, one cycle per
    partial product, the Multiplier, the term at its weight, the last add with the
    shift).
    """

    def __init__(self, params, tag_shape=0, key_spacing=1):
        self.params = params
        self.tag_shape = tag_shape
        self.key_spacing = key_spacing
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
    def products(self):
        """Partial products (DSP multiplies) per score."""
        return len(self._a) * len(self._b)

    @property
    def serial(self):
        """One Multiplier over :attr:`products` cycles (see the class docstring)."""
        return self.products > 1 and self.key_spacing >= self.products

    @property
    def latency(self):
        if self.serial:
            return 1 + self.products + Multiplier.latency + 1
        return Multiplier.latency + self.tree_levels + 1

    def elaborate(self, platform):
        return self._elaborate_serial() if self.serial else self._elaborate_parallel()

    def _shifted(self, product):
        """``floor(product / 2^(scale_frac - F))``."""
        p = self.params
        return (product >> p.x_shift) if p.x_shift >= 0 else (product << -p.x_shift)

    def _elaborate_serial(self):
        m = Module()
        p = self.params
        n = self.products
        pairs = [(a, b) for a in self._a for b in self._b]
        # A score arrives at most once per `key_spacing` >= n cycles (the user's
        # guarantee, as the core's keys are `slices` beats), so `i.ready` is constant:
        # the upstream pipeline's enables stay constant too and vanish in synthesis.
        # A score is held for the `n` cycles that follow its arrival; the next may
        # arrive in the cycle its final partial product is issued.
        step = Signal(range(n))
        running = Signal()
        last_step = step == n - 1
        m.d.comb += self.i.ready.eq(1)
        take = self.i.valid
        held = Signal.like(self.i.payload)
        with m.If(take):
            m.d.sync += held.eq(self.i.payload)
        with m.If(running):
            m.d.sync += step.eq(Mux(last_step, 0, step + 1))
        m.d.sync += running.eq(take | (running & ~last_step))

        # The partial product `step` of the held score: its chunks, extended to the
        # DSP's 18-bit signed ports and selected by `step`.
        score = held.score.as_unsigned()
        a_opts, b_opts = [], []
        for (a_lsb, a_w, a_signed), (b_lsb, b_w, _) in pairs:
            a = score[a_lsb:a_lsb + a_w]
            a_opts.append(a.as_signed() if a_signed else a)
            b_opts.append(held.scale[b_lsb:b_lsb + b_w])
        mult = m.submodules.mult = Multiplier(signed(18), signed(18))
        a_sel, b_sel = Signal(signed(18)), Signal(signed(18))
        with m.Switch(step):
            for k in range(n):
                with m.Case(k):
                    m.d.comb += [a_sel.eq(a_opts[k]), b_sel.eq(b_opts[k])]
        m.d.comb += [mult.a.eq(a_sel), mult.b.eq(b_sel)]

        # Beside the Multiplier: which partial product leaves it, and the tag.
        side = data.StructLayout({"valid": 1, "final": 1,
                                  "weight": range(n), "tag": self.tag_shape})
        issue = Signal(side)
        m.d.comb += [issue.valid.eq(running),
                     issue.final.eq(last_step), issue.weight.eq(step), issue.tag.eq(held.tag)]
        for k in range(Multiplier.latency):
            nxt = Signal(side, name=f"side{k}")
            m.d.sync += nxt.eq(issue)
            issue = nxt

        # Each partial product, registered at its weight beside the adder (the DSP's
        # output is slow to leave the block), then added; the final one goes with the
        # running sum through the shift to the output. Bound as in the parallel tree:
        # every partial sum is below 2^score_width * 2^scale_width.
        tree_w = p.score_width + p.scale_width + 1
        weights = [a_lsb + b_lsb for (a_lsb, _, _), (b_lsb, _, _) in pairs]
        term = Signal(signed(tree_w))
        with m.Switch(issue.weight):
            for k, w in enumerate(weights):
                with m.Case(k):
                    m.d.sync += term.eq(mult.p << w)
        at_term = Signal(side, name="side_term")
        m.d.sync += at_term.eq(issue)
        issue = at_term
        # The running sum starts from 0: it is cleared as its final term goes out (a
        # synchronous reset, no select in front of the adder).
        total = Signal(signed(tree_w))
        total_next = total + term
        with m.If(issue.valid):
            m.d.sync += total.eq(Mux(issue.final, 0, total_next))
        m.d.sync += self.o.valid.eq(issue.valid & issue.final)
        with m.If(issue.valid & issue.final):
            m.d.sync += [self.o.payload.x.eq(self._shifted(total_next)),
                         self.o.payload.tag.eq(issue.tag)]
        return m

    def _elaborate_parallel(self):
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
        with m.If(en):
            m.d.sync += [self.o.payload.x.eq(self._shifted(product)), self.o.payload.tag.eq(tag),
                         self.o.valid.eq(valid)]
        return m
