"""Exp unit: ``2^y`` for ``y < 0`` as a shift and ``2^frac`` (table, polynomial or shift)."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from attnhw.golden.exp2 import exp2_lut_table, exp2_table, poly_coefficients

from .multiplier import Multiplier
from .pipeline import delay

__all__ = ["Exp2"]

#: Yosys's memory mapping: build the table from LUTs, not a block RAM.
_LOGIC_ROM = {"rom_style": "logic"}


class Exp2(wiring.Component):
    """``e = min(round(2^(f/2^F) * 2^-(n+1) * 2^E), 2^E - 1)``, ``u0.E``, ``2^frac`` by
    ``exp_method``.

    Golden: ``attnhw.golden.exp2.exp2_weight``; its docstring gives each method and the error
    budget (below ``0.87 * 2^-E`` absolute at the defaults). ``"interp"``: the ROM holds
    ``2^T`` (base, slope) pairs, one read per weight, ``(E+2) + slope`` bits wide;
    ``"lut"``: ``2^T + 1`` values; ``"poly"``: two constant multipliers, no ROM;
    ``"shift"``: a multiplexer.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{n: u(clog2(E+2)).0 (<= E+1), f: u0.F, tag}``
    o : ``Out(stream.Signature(...))``
        ``{e: u0.E, tag}``

    Latency: 8 cycles for every method (``"interp"``: ROM address, ROM word,
    interpolation product (2), interpolation sum, coarse shift, fine shift, round).
    """

    latency = 8

    def __init__(self, params, tag_shape=0):
        self.params = params
        self.tag_shape = tag_shape
        p = params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "n": unsigned(p.exp_shift_limit.bit_length()),
                "f": unsigned(p.score_frac_bits), "tag": tag_shape}))),
            "o": Out(stream.Signature(data.StructLayout({
                "e": unsigned(p.exp_weight_width), "tag": tag_shape}))),
        })

    def table(self):
        """The ``2^frac`` table, ``u1.(E+1)``: ``attnhw.golden.exp2.exp2_table`` (``"interp"``)
        or ``exp2_lut_table`` (``"lut"``)."""
        t = exp2_lut_table(self.params) if self.params.exp_method == "lut" else exp2_table(self.params)
        return [int(x) for x in t]

    def slopes(self, table):
        """Per segment, the interpolation slope ``table[i+1] - table[i]``."""
        return [b - a for a, b in zip(table, table[1:])]

    def elaborate(self, platform):
        m = Module()
        p = self.params
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # Stages 1-5 compute `value` = 2^frac, u1.(E+1); n + 1, valid and tag travel
        # beside it.
        value = getattr(self, f"_value_{p.exp_method}")(m, en, self.i.payload.f)
        n1 = delay(m, en, self.i.payload.n + 1, 5, "n1")
        valid = delay(m, en, self.i.valid, 5, "valid")
        tag = delay(m, en, self.i.payload.tag, 5, "tag")

        # Stages 6-7: half = floor(value / 2^(n+1)) (value <= 2^(E+2): "lut"'s last
        # entry is 2.0), shifted by the multiple of 4 in n + 1, then by the rest
        # (exact: floor(floor(v / 2^a) / 2^b) = floor(v / 2^(a+b))).
        coarse = delay(m, en, value >> Cat(C(0, 2), n1[2:]), 1, "coarse")
        fine = delay(m, en, n1[:2], 1, "fine")
        half = delay(m, en, coarse >> fine, 1, "half")
        valid = delay(m, en, valid, 2, "valid_half")
        tag = delay(m, en, tag, 2, "tag_half")
        # Stage 8: e = (half + 1) / 2, i.e. rounded to u0.E, and 1.0 saturated to
        # 1 - 2^-E.
        e = Signal(p.exp_bits + 1)
        m.d.comb += e.eq((half + 1) >> 1)
        with m.If(en):
            m.d.sync += [self.o.payload.e.eq(Mux(e[-1], p.exp_value_max, e)),
                         self.o.payload.tag.eq(tag), self.o.valid.eq(valid)]
        return m

    def _value_interp(self, m, en, f):
        p = self.params
        table = self.table()
        base_w = max(table).bit_length()
        slopes = self.slopes(table)
        slope_w = max(1, max(slopes).bit_length())
        lo_bits = p.score_frac_bits - p.exp_table_bits
        # Stage 1: the ROM address registered; stage 2: the ROM word (base, slope),
        # read asynchronously from LUTs (`rom_style`), registered: a block RAM's
        # clock-to-out alone (~4 ns on ECP5 without its output register) capped the
        # unit at 177 MHz, and Yosys folds the word register back into a block RAM
        # read port unless told the ROM is logic.
        m.submodules.rom = rom = Memory(
            shape=unsigned(base_w + slope_w), depth=len(slopes),
            init=[a | (s << base_w) for a, s in zip(table, slopes)], attrs=_LOGIC_ROM)
        rd = rom.read_port(domain="comb")
        m.d.comb += rd.addr.eq(delay(m, en, f >> lo_bits, 1, "rom_addr"))
        rom_word = delay(m, en, rd.data, 1, "rom_word")
        base = delay(m, en, rom_word[:base_w], 2, "base")
        if not lo_bits:
            return delay(m, en, base, 1, "value")
        # Stages 3-4: the interpolation product slope * f_lo (a registered Multiplier).
        f_lo = delay(m, en, f[:lo_bits], 2, "f_lo")
        m.submodules.interp = mult = Multiplier(unsigned(slope_w), unsigned(lo_bits))
        m.d.comb += [mult.a.eq(rom_word[base_w:]), mult.b.eq(f_lo), mult.en.eq(en)]
        # Stage 5: value = base + round(product / 2^lo_bits)
        #              = floor((base * 2^lo_bits + 2^(lo_bits-1) + product) / 2^lo_bits):
        # one adder, the rounding constant wired in below the base.
        biased = Cat(C(1 << (lo_bits - 1), lo_bits), base)
        return delay(m, en, (biased + mult.p) >> lo_bits, 1, "value")

    def _value_lut(self, m, en, f):
        p = self.params
        table = self.table()
        lo_bits = p.score_frac_bits - p.exp_table_bits
        m.submodules.rom = rom = Memory(shape=unsigned(max(table).bit_length()),
                                        depth=len(table), init=table, attrs=_LOGIC_ROM)
        rd = rom.read_port(domain="comb")        # registered address, LUT ROM (as interp)
        idx = f if lo_bits == 0 else (f + (1 << (lo_bits - 1))) >> lo_bits   # rounded
        m.d.comb += rd.addr.eq(delay(m, en, idx, 1, "rom_addr"))
        return delay(m, en, rd.data, 4, "value")

    def _value_poly(self, m, en, f):
        p = self.params
        c0, c1, c2 = poly_coefficients(p.exp_bits)
        fb = p.score_frac_bits
        a = delay(m, en, C(c2) * f, 1, "c2_t")                       # stage 1
        f1 = delay(m, en, f, 1, "f1")
        b = delay(m, en, C(c1) + (a >> fb), 1, "b")                  # stage 2
        f2 = delay(m, en, f1, 1, "f2")
        prod = delay(m, en, b * f2, 1, "b_t")                        # stage 3
        top = (1 << (p.exp_bits + 2)) - 1
        v = (prod >> fb) + c0
        return delay(m, en, Mux(v > top, top, v), 2, "value")        # stages 4-5

    def _value_shift(self, m, en, f):
        e1 = self.params.exp_bits + 1
        return delay(m, en, Mux(f[-1], C(1 << (e1 + 1)), C(1 << e1)), 5, "value")

