"""Each query's key limit, from the settings sampled at its final beat."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .engine_layouts import limit_event_layout, query_event_layout

__all__ = ["KeyLimit"]


class KeyLimit(wiring.Component):
    """``limit = min(key_limit or n, clip(i + offset + 1, 0, n))`` if ``causal``, else
    ``key_limit or n`` (``n`` = ``max_seq_len``): query ``i`` (of its head, or of its
    query head in a grouped-query pass) sees keys ``j < limit``.

    Golden: ``attnhw.golden.engine.key_limits``. Four registered stages, one carry
    chain each: the event registered, the causal sum and the base limit, the causal
    limit clipped to ``[0, n]``, the smaller of the two. It never stalls.

    Members
    -------
    i : ``In(query_event_layout(params))``
    o : ``Out(limit_event_layout(params))``, :attr:`latency` cycles later.
    """

    latency = 4

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(query_event_layout(params)),
                          "o": Out(limit_event_layout(params))})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        n = p.max_seq_len
        limit_w = n.bit_length()
        d = Signal(query_event_layout(p), name="d")
        m.d.sync += d.valid.eq(self.i.valid)
        with m.If(self.i.valid):
            m.d.sync += d.eq(self.i)
        cfg = d.settings
        side = data.StructLayout({"valid": 1, "block_end": 1, "head_end": 1,
                                  "slot": d.slot.shape(), "causal": 1,
                                  "base": unsigned(limit_w)})
        e, f, g = (Signal(side, name=f"{x}_side") for x in "efg")
        e_causal_limit = Signal(signed(limit_w + 3))
        f_clipped = Signal(unsigned(limit_w))
        g_limit = Signal(unsigned(limit_w))
        m.d.sync += [
            e.valid.eq(d.valid), e.block_end.eq(d.block_end), e.head_end.eq(d.head_end),
            e.slot.eq(d.slot), e.causal.eq(cfg.causal),
            e.base.eq(Mux(cfg.key_limit == 0, n, cfg.key_limit)),
            e_causal_limit.eq(d.index + cfg.offset + 1),
            f.eq(e),
            f_clipped.eq(Mux(e_causal_limit < 0, 0, Mux(e_causal_limit > n, n, e_causal_limit))),
            g.eq(f),
            g_limit.eq(Mux(f.causal & (f_clipped < f.base), f_clipped, f.base)),
        ]
        m.d.comb += [self.o.valid.eq(g.valid), self.o.slot.eq(g.slot),
                     self.o.block_end.eq(g.block_end), self.o.head_end.eq(g.head_end),
                     self.o.limit.eq(g_limit)]
        return m
