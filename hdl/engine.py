"""The attention engine: K/V on chip, ``block`` queries per pass, masks, many heads."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .chain import Chain
from .core import AttentionCore
from .engine_layouts import engine_out_layout, engine_query_layout, engine_settings_layout
from .key_limit import KeyLimit
from .kv_buffer import KVBuffer
from .kv_store import KVStore, kv_pass_layout, kv_read_layout
from .layouts import kv_layout, row_layout
from .normalize_narrow import SliceJoiner, narrow_params
from .normalize_recip import normalizer
from .query_distributor import QueryDistributor
from .row_collector import RowCollector, block_descriptor_layout
from .row_emitter import RowEmitter
from .skid_buffer import SkidBuffer
from .stream_fifo import StreamFIFO

__all__ = ["AttentionEngine", "engine_settings_layout", "engine_query_layout",
           "engine_out_layout"]


class AttentionEngine(wiring.Component):
    """``O = softmax(scale * Q K^T + mask) V`` for a stream of heads.

    Golden: ``attnhw.golden.engine.engine_attention``. Per head, the keys and values arrive
    once on ``kv`` and are kept in block RAM (:class:`KVStore`, two banks: the next
    head loads while this one computes); then the head's queries stream in on ``q``
    and leave as output rows on ``o``, in order. Queries are taken ``block`` at a
    time: each of ``block`` :class:`AttentionCore` pipelines holds one query, and one
    pass over the stored keys feeds every slice read to all of them
    (``2 * lanes * block`` multipliers). The last block of a head may be partial.

    The ``block`` cores share one normaliser (with ``norm_method`` ``divide``,
    :class:`attnhw.hdl.normalize.Normalize`, a slice per ``w + 2`` cycles, ``w`` =
    ``out_width``; ``lanes / norm_lanes`` times that with a narrower one,
    :class:`attnhw.hdl.normalize_narrow.NarrowNormalizer`): it keeps pace with heads
    of ``N >= block * (w + 2) * lanes / norm_lanes`` keys; shorter heads run at its
    pace.

    Members
    -------
    kv : ``In(stream.Signature(kv_layout(params)))``
        ``head_dim // lanes`` beats per key: ``k``, ``v`` slices, ``masked`` (padding
        bit of the key), ``last`` on the final beat of the head's final key.
    q : ``In(stream.Signature(engine_query_layout(params)))``
        ``head_dim // lanes`` beats per query, ``last`` at the end of the head.
    o : ``Out(stream.Signature(engine_out_layout(params)))``
    settings : ``In(engine_settings_layout(params))``
        Sampled at each query's final beat.
    err_last_misplaced, err_too_many_keys : ``Out(1)``
        Sticky framing errors of ``kv`` (as the core's); ``err_q_last_misplaced``:
        a ``q`` beat carried ``last`` but was not a query's final beat (ignored).
    clear_errors : ``In(1)``
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "kv": In(stream.Signature(kv_layout(params))),
            "q": In(stream.Signature(engine_query_layout(params))),
            "o": Out(stream.Signature(engine_out_layout(params))),
            "settings": In(engine_settings_layout(params)),
            "err_last_misplaced": Out(1),
            "err_too_many_keys": Out(1),
            "err_q_last_misplaced": Out(1),
            "clear_errors": In(1),
        })

    #: Cycles from a beat into a core's K/V buffer to its output.
    FIFO_CYCLES = KVBuffer.latency
    #: Cycles from a freed place to its credit counted (``credit_room`` registers it).
    CREDIT_CYCLES = 2
    #: Places beyond the round trip: the count's own place in hand and late release.
    KV_SLACK = 7

    @property
    def kv_round_trip(self):
        """Cycles from a read issued for the farthest core to its credit back: the
        RAM, the chain's hops out, the buffer, the hops back, the count."""
        last = self.params.block - 1
        return (KVStore.latency + Chain.hops(last) + self.FIFO_CYCLES + Chain.hops(last)
                + self.CREDIT_CYCLES)

    @property
    def kv_buffer_depth(self):
        """Places in each core's K/V buffer, and the store's credits per core: the
        credit round trip plus slack, so that credits never throttle a core that takes
        a beat every cycle."""
        return self.kv_round_trip + self.KV_SLACK

    @property
    def q_fifo_depth(self):
        """Query beats queued per core (:attr:`QueryDistributor.fifo_depth`)."""
        return QueryDistributor(self.params).fifo_depth

    #: Blocks whose descriptors may be queued: the store, the cores and the collector
    #: overlap.
    DESC_DEPTH = 16

    def elaborate(self, platform):
        m = Module()
        p = self.params
        B = p.block
        m.submodules.store = store = KVStore(p, credits=self.kv_buffer_depth)
        cores = [AttentionCore(p, normalize=False) for _ in range(B)]
        for b, core in enumerate(cores):
            m.submodules[f"core{b}"] = core
        wiring.connect(m, wiring.flipped(self.kv), store.load)
        m.d.comb += [store.clear_errors.eq(self.clear_errors),
                     self.err_last_misplaced.eq(store.err_last_misplaced),
                     self.err_too_many_keys.eq(store.err_too_many_keys)]

        # Queries: query i of a head to core i mod block, through the chain past the
        # cores; each query's key limit follows from the settings at its final beat.
        m.submodules.distributor = dist = QueryDistributor(p)
        wiring.connect(m, wiring.flipped(self.q), dist.q)
        m.d.comb += [dist.settings.eq(self.settings), dist.clear_errors.eq(self.clear_errors),
                     self.err_q_last_misplaced.eq(dist.err_q_last_misplaced)]
        for b, core in enumerate(cores):
            wiring.connect(m, dist.o[b], core.q)
        m.submodules.key_limit = key_limit = KeyLimit(p)
        m.d.comb += key_limit.i.eq(dist.done)
        lim = key_limit.o

        # Block descriptors, written as a block's final query leaves the key-limit
        # pipeline: the store's pass command (which cores, their key limits, release
        # the head after this pass) and, twice, the output order: the collector in
        # front of the normaliser and the emitter behind it each walk their own copy.
        pass_shape = kv_pass_layout(p)
        out_shape = block_descriptor_layout(B)
        depth = self.DESC_DEPTH
        m.submodules.pass_fifo = pass_fifo = StreamFIFO(pass_shape, depth)
        m.submodules.collect_fifo = collect_fifo = StreamFIFO(out_shape, depth)
        m.submodules.emit_fifo = emit_fifo = StreamFIFO(out_shape, depth)
        # Room for a block's descriptors, written KeyLimit.latency cycles after its
        # final query beat: places for the ones that may be on their way (one per
        # stage, and the room register's own cycle) besides. (The emitter reads its
        # copy last, so it is never less full than the collector's.)
        in_flight = KeyLimit.latency + 1
        room = Signal()
        m.d.sync += room.eq((pass_fifo.level < depth - in_flight)
                            & (emit_fifo.level < depth - in_flight))
        m.d.comb += dist.room.eq(room)

        limits = Signal(pass_shape["limits"].shape)
        new_limits = Signal.like(limits)
        for b in range(B):
            m.d.comb += new_limits[b].eq(Mux(lim.slot == b, lim.limit, limits[b]))
        with m.If(lim.valid):
            m.d.sync += limits.eq(new_limits)
        write = lim.valid & lim.block_end
        m.d.comb += [
            pass_fifo.i.payload.active.eq(Cat(Const(1) if b == 0 else lim.slot >= b
                                              for b in range(B))),
            pass_fifo.i.payload.limits.eq(new_limits),
            pass_fifo.i.payload.release.eq(lim.head_end),
            pass_fifo.i.valid.eq(write),
        ]
        for fifo in (collect_fifo, emit_fifo):
            m.d.comb += [fifo.i.payload.count.eq(lim.slot + 1),
                         fifo.i.payload.head_end.eq(lim.head_end), fifo.i.valid.eq(write)]

        # Pass: the store streams the head's slices once per block. (Its command port's
        # ready is a flip-flop: the start decision stays inside the store.)
        wiring.connect(m, pass_fifo.o, store.cmd)
        # Each beat passes the cores in the chain's registered hops and waits in the
        # buffer of each core it is for; the store issued it only with a credit for a
        # place there, so nothing stalls between the RAM and the buffers.
        src = store.o
        kv_shape = kv_layout(p)
        m.submodules.kv_chain = kv_chain = Chain(kv_read_layout(p), B)
        m.d.comb += [kv_chain.i.valid.eq(src.valid), kv_chain.i.dest.eq(src.payload.active),
                     kv_chain.i.payload.eq(src.payload), store.taken.eq(kv_chain.released)]
        clear = self.clear_errors
        for b, core in enumerate(cores):
            hop = kv_chain.o[b]
            buf = m.submodules[f"kv_buffer{b}"] = KVBuffer(kv_shape, self.kv_buffer_depth,
                                                           parts=max(1, p.lanes // 4))
            m.d.comb += [buf.i.valid.eq(hop.valid), buf.i.payload.k.eq(hop.payload.k),
                         buf.i.payload.v.eq(hop.payload.v),
                         buf.i.payload.masked.eq(hop.payload.masked[b]),
                         buf.i.payload.last.eq(hop.payload.last),
                         kv_chain.release[b].eq(buf.o.valid & buf.o.ready)]
            wiring.connect(m, buf.o, core.kv)
            # (The cores' own framing flags are not used: the store frames the keys.)
            clear_b = Signal(name=f"clear_errors{b}")
            m.d.sync += clear_b.eq(clear)
            m.d.comb += core.clear_errors.eq(clear_b)
            clear = clear_b

        # Output: the block's cores share one normaliser. A row of `slices` slices
        # spends slices * (w + 2) * lanes / norm_lanes cycles in it (`divide`), so a
        # block's B rows take B times that; the cores finish their rows together and
        # then take N * slices cycles over their next ones (N keys), which hides the
        # normaliser while N >= B * (w + 2) * lanes / norm_lanes. Below that the
        # normaliser sets the pace.
        # Each core's rows leave it in parts of `normaliser_lanes` lanes (a row is rare
        # data: one per N keys); the collector takes them in query order, core 0 ..
        # count - 1 of each block, in registered steps across the die; the joiner
        # rebuilds full slices behind the normaliser.
        narrow = narrow_params(p)
        m.submodules.collect = collect = RowCollector(narrow)
        m.submodules.norm = norm = normalizer(narrow)
        for b, core in enumerate(cores):
            # A skid buffer between: the collector's take reaches the core's row memory
            # through a flip-flop (`ready`), not through the choice of the next row
            # (nextpnr: 8.86 ns of routing from the collector's `busy` to core 0's
            # row-read address copies, the engine's worst path at seed 1 of 30b04e4).
            skid = m.submodules[f"row_skid{b}"] = SkidBuffer(row_layout(narrow))
            wiring.connect(m, core.o, skid.i)
            wiring.connect(m, skid.o, collect.rows[b])
        wiring.connect(m, collect_fifo.o, collect.desc)
        wiring.connect(m, collect.o, norm.i)
        rows_out = norm.o
        if narrow.lanes != p.lanes:
            m.submodules.join = join = SliceJoiner(p)
            wiring.connect(m, norm.o, join.i)
            rows_out = join.o

        # The emitter marks each row's and each head's final beat.
        m.submodules.emit = emit = RowEmitter(p)
        wiring.connect(m, rows_out, emit.rows)
        wiring.connect(m, emit_fifo.o, emit.desc)
        wiring.connect(m, emit.o, wiring.flipped(self.o))
        return m
