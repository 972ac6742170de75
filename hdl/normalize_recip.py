"""Final normalisation by a reciprocal: ``o = sat_w(round(acc * (1/l)))``, pipelined."""

from amaranth.hdl import C, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from attnhw.golden.errors import InputError
from attnhw.golden.normalize import recip_table

from .pipeline import delay
from .layouts import out_layout, row_layout
from .normalize import Normalize
from .normalize_narrow import NarrowNormalizer, narrow_params

__all__ = ["NormalizeRecip", "normalizer"]


def normalizer(p):
    """The normaliser ``p.norm_method`` names: :class:`Normalize` (``divide``) or
    :class:`NormalizeRecip` (``recip_nr``, ``recip_lut``); with ``norm_lanes`` below
    ``lanes``, that one built for ``norm_lanes`` lanes inside a
    :class:`~attnhw.hdl.normalize_narrow.NarrowNormalizer`."""
    if p.normaliser_lanes != p.lanes:
        return NarrowNormalizer(p, normalizer(narrow_params(p)))
    return Normalize(p) if p.norm_method == "divide" else NormalizeRecip(p)


class NormalizeRecip(wiring.Component):
    """``norm_method`` ``"recip_nr"`` or ``"recip_lut"``: one reciprocal per beat, then
    one multiply per lane; a slice per cycle (the divider needs ``w + 2``).

    Golden: ``attnhw.golden.normalize.quotient``: ``k = floor(log2 l)``, ``m = l / 2^k`` in
    ``u1.(S-1)``, ``r0 = table[R bits of m below its leading one]`` (``u1.P``),
    ``"recip_nr"``: ``r = r0 (2^(P+1) - (m r0 >> P)) >> P``; then
    ``q = (floor(acc r / 2^(P+k-1)) + 1) >> 1`` (= ``round(acc r / 2^(P+k))``),
    saturated to ``w`` bits; 0 when ``l = 0``.

    Members: ``i`` and ``o`` as :class:`attnhw.hdl.normalize.Normalize` (the two are
    interchangeable in the core).

    Latency: 9 cycles (``"recip_nr"``) or 7 (``"recip_lut"``); every stage stalls
    together when ``o`` is not ready.
    """

    def __init__(self, params):
        if params.norm_method not in ("recip_nr", "recip_lut"):
            raise InputError(f"NormalizeRecip needs a reciprocal norm_method, "
                             f"not {params.norm_method!r}")
        self.params = params
        super().__init__({
            "i": In(stream.Signature(row_layout(params))),
            "o": Out(stream.Signature(out_layout(params))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        s, pf, rb, w = p.sum_width, p.recip_frac_bits, p.recip_table_bits, p.data_width
        nr = p.norm_method == "recip_nr"
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]
        stages = 6 if nr else 4          # before the per-lane product
        l_in = self.i.payload.sum

        # Stage 1: the leading one of l at bit k, and the final shift P + k - 1, from a
        # priority encoder (the last matching bit wins).
        lz_in = Signal(range(s))
        shift_in = Signal(range(pf + s))
        for b in range(s):
            with m.If(l_in[b]):
                m.d.comb += [lz_in.eq(s - 1 - b), shift_in.eq(pf + b - 1)]
        lz = delay(m, en, lz_in, 1, "lz")
        l1 = delay(m, en, l_in, 1, "l")
        shift1 = delay(m, en, shift_in, 1, "shift")
        # Stage 2: the mantissa u1.(S-1), leading one at bit S-1.
        mant = delay(m, en, (l1 << lz)[:s], 1, "mant")
        # Stages 3-4: table read, the word registered.
        table = [int(t) for t in recip_table(p)]
        m.submodules.rom = rom = Memory(shape=unsigned(pf), depth=len(table), init=table)
        rd = rom.read_port(domain="sync")
        idx = (mant >> (s - 1 - rb)) if s - 1 >= rb else (mant << (rb - s + 1))
        m.d.comb += [rd.en.eq(en), rd.addr.eq(idx[:rb])]
        r = delay(m, en, rd.data, 1, "r0")
        if nr:
            # Stage 5: t = m r0 / 2^P (about 2^P); stage 6: r0 (2^(P+1) - t).
            mant4 = delay(m, en, mant, 2, "mant_nr")
            m_p = (mant4 >> (s - 1 - pf)) if s - 1 >= pf else (mant4 << (pf - s + 1))
            t = delay(m, en, (m_p * r) >> pf, 1, "t")
            r5 = delay(m, en, r, 1, "r0_nr")
            r = delay(m, en, r5 * (C(1 << (pf + 1)) - t)[:pf + 2], 1, "r_prod") >> pf
            r = r[:pf + 1]
        shift = delay(m, en, shift1, stages - 1, "shift_late")
        zero = delay(m, en, l_in == 0, stages, "zero")
        last = delay(m, en, self.i.payload.last, stages, "last")
        valid = delay(m, en, self.i.valid, stages, "valid")
        accs = [delay(m, en, self.i.payload.acc[n], stages, f"acc{n}") for n in range(p.lanes)]

        # Stage +1: acc * r per lane.
        prods = [delay(m, en, a * r, 1, f"prod{n}") for n, a in enumerate(accs)]
        shift = delay(m, en, shift, 1, "shift_prod")
        # Stage +2: q = (floor(prod / 2^(P+k-1)) + 1) >> 1.
        qs = [delay(m, en, ((pr >> shift) + 1) >> 1, 1, f"q{n}") for n, pr in enumerate(prods)]
        zero, last, valid = (delay(m, en, x, 2, nm) for x, nm in
                             ((zero, "zero_o"), (last, "last_o"), (valid, "valid_o")))
        # Stage +3: saturate to w bits; an all-masked row (l = 0) gives 0.
        lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        with m.If(en):
            m.d.sync += [self.o.valid.eq(valid), self.o.payload.last.eq(last)]
            for n, q in enumerate(qs):
                m.d.sync += self.o.payload.o[n].eq(
                    Mux(zero, 0, Mux(q < lo, lo, Mux(q > hi, hi, q))))
        return m
