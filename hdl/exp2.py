"""Exp unit: ``2^y`` for ``y < 0`` as a shift and an interpolated ``2^frac`` table."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.exp2 import exp2_table

__all__ = ["Exp2"]


class Exp2(wiring.Component):
    """``e = round(2^(f/2^F) * 2^-(n+1) * 2^E)``, ``u1.E``.

    Golden: ``golden.exp2.exp2_weight``; its docstring gives the table and the error
    budget (below ``0.77 * 2^-E`` absolute at the defaults). The table holds
    ``2^T`` (base, slope) pairs: one ROM read per weight, ``(E+2) + slope`` bits wide.

    Members
    -------
    i : ``In(stream.Signature(...))``
        ``{n: u(clog2(E+2)).0 (<= E+1), f: u0.F, tag}``
    o : ``Out(stream.Signature(...))``
        ``{e: u1.E, tag}``

    Latency: 5 cycles (ROM read, ROM word register, interpolation product, interpolation
    sum, shift and round).
    """

    latency = 5

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
        """The ``2^frac`` table, ``u1.(E+1)`` (``golden.exp2.exp2_table``)."""
        return [int(t) for t in exp2_table(self.params)]

    def slopes(self, table):
        """Per segment, the interpolation slope ``table[i+1] - table[i]``."""
        return [b - a for a, b in zip(table, table[1:])]

    def elaborate(self, platform):
        m = Module()
        p = self.params
        table = self.table()
        base_w = max(table).bit_length()
        slopes = self.slopes(table)
        slope_w = max(1, max(slopes).bit_length())
        lo_bits = p.score_frac_bits - p.exp_table_bits

        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # Stage 1: ROM read (registered), carry the low fraction bits and the shift.
        m.submodules.rom = rom = Memory(
            shape=unsigned(base_w + slope_w), depth=len(slopes),
            init=[a | (s << base_w) for a, s in zip(table, slopes)])
        rd = rom.read_port(domain="sync")
        f_lo = Signal(max(lo_bits, 1))
        n1 = Signal.like(self.i.payload.n)
        v1 = Signal()
        t1 = Signal(self.tag_shape)
        m.d.comb += [rd.en.eq(en), rd.addr.eq(self.i.payload.f >> lo_bits)]
        with m.If(en):
            m.d.sync += [f_lo.eq(self.i.payload.f[:lo_bits] if lo_bits else 0),
                         n1.eq(self.i.payload.n), v1.eq(self.i.valid),
                         t1.eq(self.i.payload.tag)]

        # Stage 1b: the ROM word registered (block RAM clock-to-out is slow).
        rom_word = Signal.like(rd.data)
        f_lo1, n1b = Signal.like(f_lo), Signal.like(n1)
        v1b, t1b = Signal(), Signal(self.tag_shape)
        with m.If(en):
            m.d.sync += [rom_word.eq(rd.data), f_lo1.eq(f_lo), n1b.eq(n1), v1b.eq(v1),
                         t1b.eq(t1)]

        # Stage 2: the interpolation product slope * f_lo (registered: maps onto a DSP).
        base = rom_word[:base_w]
        slope = rom_word[base_w:]
        product = Signal(unsigned(slope_w + max(lo_bits, 1)))
        base2 = Signal(unsigned(base_w))
        n2 = Signal.like(n1)
        v2 = Signal()
        t2 = Signal(self.tag_shape)
        with m.If(en):
            m.d.sync += [product.eq(slope * f_lo1 if lo_bits else 0), base2.eq(base),
                         n2.eq(n1b), v2.eq(v1b), t2.eq(t1b)]

        # Stage 3: value = base + round(product / 2^lo_bits), u1.(E+1).
        value = Signal(unsigned(base_w))
        n3 = Signal.like(n1)
        v3 = Signal()
        t3 = Signal(self.tag_shape)
        with m.If(en):
            if lo_bits:
                m.d.sync += value.eq(base2 + ((product + (1 << (lo_bits - 1))) >> lo_bits))
            else:
                m.d.sync += value.eq(base2)
            m.d.sync += [n3.eq(n2), v3.eq(v2), t3.eq(t2)]

        # Stage 4: e = (floor(value / 2^(n+1)) + 1) / 2, i.e. rounded to u1.E.
        with m.If(en):
            m.d.sync += [self.o.payload.e.eq(((value >> (n3 + 1)) + 1) >> 1),
                         self.o.payload.tag.eq(t3), self.o.valid.eq(v3)]
        return m
