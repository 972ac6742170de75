"""The output projection's row intake: the engine's rows into two row buffers."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .engine_layouts import engine_out_layout
from .replicate import register_copies

__all__ = ["ProjRowBuffers", "row_meta_layout"]


def row_meta_layout(op):
    """A buffered row's place: its head ``h``, its first weight word ``wbase = h·head_dim``,
    its partial sums' first address ``pbase = t·groups`` (row ``t`` of its tile), and
    ``tile_last`` (the tile's final row)."""
    return data.StructLayout({"h": range(op.heads), "wbase": range(op.k),
                              "pbase": range(op.tile_rows * op.groups), "tile_last": 1})


class ProjRowBuffers(wiring.Component):
    """Two row buffers: one fills from ``c`` while the projection issues the other's
    row. A buffer is full from its row's final beat until the issue frees it.

    Each element is read through a mux by the issue, so no wide register shifts or
    loads under the issue's control. A beat is written one cycle after it is taken,
    each group of 4 lanes of each (buffer, slice) place under its own registered
    enable: the input's valid gating all ``2·d·w`` bits was a long net (8.02 ns at one
    seed). The rows' places count heads and tile rows as they pass: a pass of a tile
    for head ``h`` ends with ``last``; the head after ``heads − 1`` is 0 again.

    Parameters
    ----------
    params : AttnParams
        The engine's (``c``'s beats: ``lanes`` elements ``s(out_width)``).
    proj : ProjParams

    Members
    -------
    c : ``In(stream.Signature(engine_out_layout(params)))``
    rows : ``Out(ArrayLayout(ArrayLayout(signed(out_width), head_dim), 2))``
    metas : ``Out(ArrayLayout(row_meta_layout(proj), 2))``
    full : ``Out(2)``
        Buffer ``b`` holds a row not yet issued; its ``rows[b]`` and ``metas[b]`` are
        stable (written two cycles or more before ``full`` rises, for the element's).
    free : ``In(2)``
        Pulse: buffer ``b``'s row has been issued.
    err_tile_rows : ``Out(1)``
        Sticky: a tile had more than ``tile_rows`` rows.
    clear_errors : ``In(1)``
    """

    def __init__(self, params, proj):
        self.params, self.proj = params, proj
        w, d = params.out_width, proj.head_dim
        super().__init__({
            "c": In(stream.Signature(engine_out_layout(params))),
            "rows": Out(data.ArrayLayout(data.ArrayLayout(signed(w), d), 2)),
            "metas": Out(data.ArrayLayout(row_meta_layout(proj), 2)),
            "full": Out(2), "free": In(2),
            "err_tile_rows": Out(1), "clear_errors": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        p, op = self.params, self.proj
        G, K, d, H, T = op.groups, op.k, op.head_dim, op.heads, op.tile_rows
        w = p.out_width
        bufs, metas, full = self.rows, self.metas, self.full
        wsel = Signal()
        part = Signal(range(p.slices))
        t_in, h_in = Signal(range(T)), Signal(range(H))
        # The row's first weight word (h·d) and partial sums (t·G), kept as counters
        # (no multiplier at the row's start).
        t_base, h_base = Signal(range(T * G)), Signal(range(K))
        m.d.comb += self.c.ready.eq(~full.bit_select(wsel, 1))
        take = self.c.valid & self.c.ready
        beat = Signal(self.c.payload.o.shape(), name="beat")
        m.d.sync += beat.eq(self.c.payload.o)
        for b in range(2):
            for s in range(p.slices):
                ens = register_copies(m, take & (wsel == b) & (part == s),
                                      -(-p.lanes // 4), f"row{b}_write_s{s}")
                for q, en in zip(range(0, p.lanes, 4), ens):
                    lo_bit = (s * p.lanes + q) * w
                    n_bits = min(4, p.lanes - q) * w
                    with m.If(en):
                        m.d.sync += bufs[b].as_value()[lo_bit:lo_bit + n_bits].eq(
                            beat.as_value()[q * w:q * w + n_bits])
        for b in range(2):
            with m.If(self.free[b]):
                m.d.sync += full[b].eq(0)
        with m.If(take):
            m.d.sync += part.eq(Mux(self.c.payload.row_last, 0, part + 1))
            with m.If(self.c.payload.row_last):
                for b in range(2):
                    with m.If(wsel == b):
                        m.d.sync += [full[b].eq(1), metas[b].h.eq(h_in),
                                     metas[b].wbase.eq(h_base), metas[b].pbase.eq(t_base),
                                     metas[b].tile_last.eq(self.c.payload.last)]
                m.d.sync += wsel.eq(~wsel)
                with m.If(self.c.payload.last):
                    m.d.sync += [t_in.eq(0), t_base.eq(0)]
                    with m.If(h_in == H - 1):
                        m.d.sync += [h_in.eq(0), h_base.eq(0)]
                    with m.Else():
                        m.d.sync += [h_in.eq(h_in + 1), h_base.eq(h_base + d)]
                with m.Elif(t_in == T - 1):                 # a row beyond tile_rows follows
                    m.d.sync += [t_in.eq(0), t_base.eq(0), self.err_tile_rows.eq(1)]
                with m.Else():
                    m.d.sync += [t_in.eq(t_in + 1), t_base.eq(t_base + G)]
        with m.If(self.clear_errors):
            m.d.sync += self.err_tile_rows.eq(0)
        return m
