"""The engine's query distributor: query ``i`` of a head to core ``i mod block``."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .chain import Chain
from .credits import credit_room
from .engine_layouts import engine_query_layout, engine_settings_layout, query_event_layout
from .layouts import query_layout
from .stream_fifo import StreamFIFO

__all__ = ["QueryDistributor"]


class QueryDistributor(wiring.Component):
    """Sends query ``i`` of each head to core ``i mod block`` (a block of queries is
    ``block`` queries, the head's last block possibly fewer) and reports each query as
    its final beat is taken.

    Each core's query beats wait in a FIFO beside it (``o[b]``), reached through a
    registered :class:`~attnhw.hdl.chain.Chain` past the cores; the distributor keeps a
    credit count per core, so the ``q`` handshake reads registers only: no core's
    ``ready`` reaches it, and no net reaches every core.

    Members
    -------
    q : ``In(stream.Signature(engine_query_layout(params)))``
    settings : ``In(engine_settings_layout(params))``
        Sampled with each query's final beat (its ``scale`` with every beat).
    room : ``In(1)``
        Queries may be taken (the block descriptors have room).
    o : ``Out(stream.Signature(query_layout(params))).array(block)``
        Core ``b``'s query beats.
    done : ``Out(query_event_layout(params))``
        A query's final beat was taken (one cycle).
    err_q_last_misplaced : ``Out(1)``
        Sticky: a ``q`` beat carried ``last`` but was not a query's final beat (ignored).
    clear_errors : ``In(1)``
    """

    #: Cycles from a write to a StreamFIFO to its output.
    FIFO_CYCLES = StreamFIFO.latency

    def __init__(self, params):
        self.params = params
        super().__init__({
            "q": In(stream.Signature(engine_query_layout(params))),
            "settings": In(engine_settings_layout(params)),
            "room": In(1),
            "o": Out(stream.Signature(query_layout(params))).array(params.block),
            "done": Out(query_event_layout(params)),
            "err_q_last_misplaced": Out(1),
            "clear_errors": In(1),
        })

    @property
    def fifo_depth(self):
        """Query beats queued per core: the credit round trip to the farthest core (the
        reservation registered, the chain's hops out, the FIFO's cycles, the read, the
        hops back, the release registered) plus a place in hand."""
        last = self.params.block - 1
        return 1 + Chain.hops(last) + self.FIFO_CYCLES + 1 + Chain.hops(last) + 1 + 1

    def elaborate(self, platform):
        m = Module()
        p = self.params
        B, n = p.block, p.max_seq_len
        slot = Signal(range(max(2, B)))
        q_slice = Signal(range(max(2, p.slices)))
        q_index = Signal(range(2 * n + 1))     # saturates at 2n: i + offset + 1 > n there
        end_of_query = q_slice == p.slices - 1
        q_take = Signal()
        q_shape = query_layout(p)
        m.submodules.chain = chain = Chain(q_shape, B)
        m.d.comb += [chain.i.valid.eq(q_take), chain.i.dest.eq(Cat(slot == b for b in range(B))),
                     chain.i.payload.q.eq(self.q.payload.q),
                     chain.i.payload.scale.eq(self.settings.scale)]
        q_room = []
        for b in range(B):
            fifo = m.submodules[f"fifo{b}"] = StreamFIFO(q_shape, self.fifo_depth)
            m.d.comb += [fifo.i.valid.eq(chain.o[b].valid), fifo.i.payload.eq(chain.o[b].payload),
                         chain.release[b].eq(self.o[b].valid & self.o[b].ready)]
            wiring.connect(m, fifo.o, wiring.flipped(self.o[b]))
            q_room.append(credit_room(m, self.fifo_depth, q_take & (slot == b),
                                      chain.released[b], f"q{b}")[0])
        m.d.comb += [self.q.ready.eq(Cat(q_room).bit_select(slot, 1) & self.room),
                     q_take.eq(self.q.valid & self.q.ready)]

        query_done = q_take & end_of_query
        head_end = query_done & self.q.payload.last
        block_done = query_done & ((slot == B - 1) | self.q.payload.last)
        m.d.comb += [self.done.valid.eq(query_done), self.done.index.eq(q_index),
                     self.done.slot.eq(slot), self.done.settings.eq(self.settings),
                     self.done.block_end.eq(block_done), self.done.head_end.eq(head_end)]
        with m.If(q_take):
            m.d.sync += q_slice.eq(Mux(end_of_query, 0, q_slice + 1))
        # The index counts within the head, or within each query head of a grouped-query
        # pass (GROUP_ROWS queries each; attnhw.golden.engine.query_index).
        group_rows = self.settings.group_rows
        group_end = (group_rows != 0) & (q_index + 1 == group_rows)
        with m.If(query_done):
            m.d.sync += [slot.eq(Mux(block_done, 0, slot + 1)),
                         q_index.eq(Mux(head_end | group_end, 0,
                                        Mux(q_index == 2 * n, q_index, q_index + 1)))]
        with m.If(self.clear_errors):
            m.d.sync += self.err_q_last_misplaced.eq(0)
        with m.If(q_take & self.q.payload.last & ~end_of_query):
            m.d.sync += self.err_q_last_misplaced.eq(1)
        return m
