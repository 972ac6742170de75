"""The attention engine: K/V on chip, ``block`` queries per pass, masks, many heads."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .core import AttentionCore
from .chain import Chain
from .kv_store import KVStore, kv_pass_layout, kv_read_layout
from .credits import credit_room
from .layouts import kv_layout, out_slice_layout, query_layout, slice_layout
from .normalize_narrow import SliceJoiner, narrow_params
from .normalize_recip import normalizer
from .row_collector import RowCollector, block_descriptor_layout, walk_blocks
from .skid_buffer import SkidBuffer

__all__ = ["AttentionEngine", "engine_settings_layout", "engine_query_layout",
           "engine_out_layout"]


def engine_query_layout(p):
    """Query beat: a slice of q; ``last`` on the final beat of the head's final query."""
    return data.StructLayout({"q": slice_layout(p), "last": 1})


def engine_out_layout(p):
    """Output beat: a slice of an output row; ``row_last`` on each row's final beat,
    ``last`` on the final beat of the head's final row."""
    return data.StructLayout({"o": out_slice_layout(p), "row_last": 1, "last": 1})


def engine_settings_layout(p):
    """Runtime settings, sampled at each query's final beat (``attnhw.golden.engine``):
    ``scale`` (the core's scale port format), ``causal``, ``offset`` (query ``i`` sees
    keys ``j <= i + offset``; ``s.0`` in ``[-max_seq_len, max_seq_len]``) and
    ``key_limit`` (keys ``j >= key_limit`` are masked; 0: no limit)."""
    n = p.max_seq_len
    return data.StructLayout({"scale": unsigned(p.scale_width), "causal": 1,
                              "offset": signed(n.bit_length() + 1),
                              "key_limit": unsigned(n.bit_length())})


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

    #: Cycles from a write to a ``SyncFIFOBuffered`` to its output (the K/V buffers).
    FIFO_CYCLES = 2
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
        """Query beats queued per core: the credit round trip to the farthest core (the
        reservation registered, the chain's hops out, the FIFO's two cycles, the read,
        the hops back, the release registered) plus a place in hand."""
        last = self.params.block - 1
        return 1 + Chain.hops(last) + self.FIFO_CYCLES + 1 + Chain.hops(last) + 1 + 1

    def elaborate(self, platform):
        m = Module()
        p = self.params
        B = p.block
        n = p.max_seq_len
        limit_w = n.bit_length()
        m.submodules.store = store = KVStore(p, credits=self.kv_buffer_depth)
        cores = [AttentionCore(p, normalize=False) for _ in range(B)]
        for b, core in enumerate(cores):
            m.submodules[f"core{b}"] = core
        wiring.connect(m, wiring.flipped(self.kv), store.load)
        m.d.comb += [store.clear_errors.eq(self.clear_errors),
                     self.err_last_misplaced.eq(store.err_last_misplaced),
                     self.err_too_many_keys.eq(store.err_too_many_keys)]

        # Block descriptors, written when a block's final query has gone to its core:
        # the store's pass command (which cores, their key limits, release the head
        # after this pass) and, twice, the output order: the collector in front of the
        # normaliser and the emitter behind it each walk their own copy.
        pass_shape = kv_pass_layout(p)
        limit_shape = pass_shape["limits"].shape
        out_shape = block_descriptor_layout(B)
        depth = 16     # blocks queued: the store, the cores and the collector overlap
        m.submodules.pass_fifo = pass_fifo = SyncFIFOBuffered(width=pass_shape.size, depth=depth)
        m.submodules.collect_fifo = collect_fifo = SyncFIFOBuffered(width=out_shape.size,
                                                                   depth=depth)
        m.submodules.emit_fifo = emit_fifo = SyncFIFOBuffered(width=out_shape.size, depth=depth)

        # Query distributor: query i of the head goes to core i mod block.
        slot = Signal(range(max(2, B)))
        q_slice = Signal(range(max(2, p.slices)))
        q_index = Signal(range(2 * n + 1))     # saturates at 2n: i + offset + 1 > n there
        limits = Signal(limit_shape)
        end_of_query = q_slice == p.slices - 1
        # Room for a block's descriptors, which are written four cycles after its
        # final query beat (stages d to g below): places for the ones that may be on
        # their way (one per stage and the room register's own cycle) besides.
        # (The emitter reads its copy last, so it is never less full than the
        # collector's.)
        room = Signal()
        m.d.sync += room.eq((pass_fifo.w_level < depth - 5) & (emit_fifo.w_level < depth - 5))
        # Each core's query beats wait in a small FIFO beside it, reached through the
        # chain past the cores (one register per core, hdl/chain.py); the distributor
        # keeps a credit count per core, so the q handshake reads registers only: no
        # core's `ready` crosses the die into it, and no net reaches every core.
        q_take = Signal()
        cfg = self.settings
        q_shape = query_layout(p)
        m.submodules.q_chain = q_chain = Chain(q_shape, B)
        m.d.comb += [q_chain.i.valid.eq(q_take), q_chain.i.dest.eq(Cat(slot == b for b in range(B))),
                     q_chain.i.payload.q.eq(self.q.payload.q),
                     q_chain.i.payload.scale.eq(cfg.scale)]
        q_room = []
        for b, core in enumerate(cores):
            fifo = SyncFIFOBuffered(width=q_shape.size, depth=self.q_fifo_depth)
            m.submodules[f"q_fifo{b}"] = fifo
            m.d.comb += [fifo.w_en.eq(q_chain.o[b].valid), fifo.w_data.eq(q_chain.o[b].payload),
                         core.q.valid.eq(fifo.r_rdy), core.q.payload.eq(fifo.r_data),
                         fifo.r_en.eq(core.q.ready),
                         q_chain.release[b].eq(fifo.r_rdy & core.q.ready)]
            q_room.append(credit_room(m, self.q_fifo_depth, q_take & (slot == b),
                                      q_chain.released[b], f"q{b}")[0])
        m.d.comb += [self.q.ready.eq(Cat(q_room).bit_select(slot, 1) & room),
                     q_take.eq(self.q.valid & self.q.ready)]

        query_done = q_take & end_of_query
        head_end = query_done & self.q.payload.last
        block_done = query_done & ((slot == B - 1) | self.q.payload.last)

        # Stage d, the cycle after a query's final beat: its limit from the settings
        # sampled at that beat (keys j >= limit are masked, attnhw.golden.engine.key_limits),
        # then, at a block's end, the block's descriptors. Registered first, so the
        # limit's adders and compares are not in the q handshake's cycle.
        d_valid, d_block, d_last = Signal(), Signal(), Signal()
        d_index = Signal.like(q_index)
        d_slot = Signal.like(slot)
        d_cfg = Signal.like(cfg)
        m.d.sync += d_valid.eq(query_done)
        with m.If(query_done):
            m.d.sync += [d_index.eq(q_index), d_slot.eq(slot), d_cfg.eq(cfg),
                         d_block.eq(block_done), d_last.eq(self.q.payload.last)]
        # The limit over three more stages, one carry chain each: e the causal sum
        # and the base limit, f the causal limit clipped to [0, n], g the smaller.
        side = data.StructLayout({"valid": 1, "block": 1, "last": 1, "slot": d_slot.shape(),
                                  "causal": 1, "base": unsigned(limit_w)})
        e, f, g = (Signal(side, name=f"{x}_side") for x in "efg")
        e_causal_limit = Signal(signed(limit_w + 3))
        f_clipped = Signal(unsigned(limit_w))
        g_limit = Signal(unsigned(limit_w))
        m.d.sync += [
            e.valid.eq(d_valid), e.block.eq(d_block), e.last.eq(d_last), e.slot.eq(d_slot),
            e.causal.eq(d_cfg.causal),
            e.base.eq(Mux(d_cfg.key_limit == 0, n, d_cfg.key_limit)),
            e_causal_limit.eq(d_index + d_cfg.offset + 1),
            f.eq(e),
            f_clipped.eq(Mux(e_causal_limit < 0, 0,
                             Mux(e_causal_limit > n, n, e_causal_limit))),
            g.eq(f),
            g_limit.eq(Mux(f.causal & (f_clipped < f.base), f_clipped, f.base)),
        ]
        new_limits = Signal(limit_shape)
        for b in range(B):
            m.d.comb += new_limits[b].eq(Mux(g.slot == b, g_limit, limits[b]))
        with m.If(g.valid):
            m.d.sync += limits.eq(new_limits)

        active = Signal(B)
        m.d.comb += active.eq(Cat(Const(1) if b == 0 else g.slot >= b for b in range(B)))
        pass_desc = Signal(pass_shape)
        out_desc = Signal(out_shape)
        m.d.comb += [pass_desc.active.eq(active), pass_desc.limits.eq(new_limits),
                     pass_desc.release.eq(g.last),
                     out_desc.count.eq(g.slot + 1), out_desc.head_end.eq(g.last),
                     pass_fifo.w_data.eq(pass_desc), pass_fifo.w_en.eq(g.valid & g.block),
                     collect_fifo.w_data.eq(out_desc), collect_fifo.w_en.eq(g.valid & g.block),
                     emit_fifo.w_data.eq(out_desc), emit_fifo.w_en.eq(g.valid & g.block)]
        with m.If(q_take):
            m.d.sync += q_slice.eq(Mux(end_of_query, 0, q_slice + 1))
        with m.If(query_done):
            m.d.sync += [slot.eq(Mux(block_done, 0, slot + 1)),
                         q_index.eq(Mux(head_end, 0, Mux(q_index == 2 * n, q_index, q_index + 1)))]
        with m.If(self.clear_errors):
            m.d.sync += self.err_q_last_misplaced.eq(0)
        with m.If(q_take & self.q.payload.last & ~end_of_query):
            m.d.sync += self.err_q_last_misplaced.eq(1)

        # Pass: the store streams the head's slices once per block. Each beat is
        # registered once per core (the broadcast), then waits in that core's buffer;
        # the store issued it only with a credit for a place there, so nothing stalls
        # between the RAM and the buffers.
        # The command reaches the store through a skid buffer: the store's start (its
        # credits and its pass's end) decides ready, and that decision must not also
        # cross to the FIFO's level counter, which placement may put far away.
        m.submodules.pass_skid = pass_skid = SkidBuffer(pass_shape)
        m.d.comb += [pass_skid.i.valid.eq(pass_fifo.r_rdy),
                     pass_skid.i.payload.eq(pass_fifo.r_data),
                     pass_fifo.r_en.eq(pass_skid.i.ready)]
        wiring.connect(m, pass_skid.o, store.cmd)
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
            beat = Signal(kv_shape, name=f"kv_beat{b}")
            m.d.comb += [beat.k.eq(hop.payload.k), beat.v.eq(hop.payload.v),
                         beat.masked.eq(hop.payload.masked[b]), beat.last.eq(hop.payload.last)]
            buf = SyncFIFOBuffered(width=kv_shape.size, depth=self.kv_buffer_depth)
            m.submodules[f"kv_buffer{b}"] = buf
            # (The cores' own framing flags are not used: the store frames the keys.)
            clear_b = Signal(name=f"clear_errors{b}")
            m.d.sync += clear_b.eq(clear)
            clear = clear_b
            m.d.comb += [buf.w_en.eq(hop.valid), buf.w_data.eq(beat),
                         core.kv.valid.eq(buf.r_rdy), core.kv.payload.eq(buf.r_data),
                         buf.r_en.eq(core.kv.ready),
                         kv_chain.release[b].eq(buf.r_rdy & core.kv.ready),
                         core.clear_errors.eq(clear_b)]

        # Output: the block's cores share one normaliser. A row of `slices` slices
        # spends slices * (w + 2) cycles in it, so a block's B rows take
        # B * slices * (w + 2) cycles; the cores finish their rows together and then
        # take N * slices cycles over their next ones (N keys), which hides the
        # normaliser while N >= B * (w + 2). Below that the normaliser sets the pace:
        # one block per B * slices * (w + 2) cycles.
        # The collector feeds it the rows in query order, core 0 .. count - 1 of each
        # block, from each core's accumulator row buffer (which holds a finished row
        # while its core works on the next query), in registered steps across the die.
        # Each core's rows leave it in parts of `normaliser_lanes` lanes (a row is rare
        # data: one per N keys), so the collector and the normaliser are that narrow; the
        # joiner rebuilds full slices behind the normaliser.
        narrow = narrow_params(p)
        m.submodules.norm = norm = normalizer(narrow)
        m.submodules.collect = collect = RowCollector(narrow)
        for b, core in enumerate(cores):
            wiring.connect(m, core.o, collect.rows[b])
        m.d.comb += [collect.desc.valid.eq(collect_fifo.r_rdy),
                     collect.desc.payload.eq(collect_fifo.r_data),
                     collect_fifo.r_en.eq(collect.desc.ready)]
        wiring.connect(m, collect.o, norm.i)
        rows_out = norm.o
        if narrow.lanes != p.lanes:
            m.submodules.join = join = SliceJoiner(p)
            wiring.connect(m, norm.o, join.i)
            rows_out = join.o

        # The emitter: rows leave the normaliser in the order they entered; it counts
        # them against its copy of the descriptors to mark each head's final row.
        m.submodules.out_skid = skid = SkidBuffer(engine_out_layout(p))
        row_end = rows_out.payload.last
        e_row_taken = Signal()
        _, e_head_end = walk_blocks(m, out_shape(emit_fifo.r_data), emit_fifo.r_en, B,
                                    e_row_taken, "ecur")
        m.d.comb += [skid.i.valid.eq(rows_out.valid & emit_fifo.r_rdy),
                     rows_out.ready.eq(skid.i.ready & emit_fifo.r_rdy),
                     skid.i.payload.o.eq(rows_out.payload.o),
                     skid.i.payload.row_last.eq(row_end),
                     skid.i.payload.last.eq(row_end & e_head_end),
                     e_row_taken.eq(skid.i.valid & skid.i.ready & row_end)]
        wiring.connect(m, skid.o, wiring.flipped(self.o))
        return m
