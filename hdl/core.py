"""The attention core: one query against a stream of keys and values."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .accumulator import Accumulator
from .dot_product import DotProduct
from .credits import credit_room
from .framing import key_framing
from .layouts import (kv_layout, out_layout, query_layout, row_layout, slice_layout,
                      weight_layout)
from .normalize_recip import normalizer
from .row_buffer import RowBuffer, narrow_layout
from .online_softmax import OnlineSoftmax
from .score_scale import ScoreScale

__all__ = ["AttentionCore"]


class AttentionCore(wiring.Component):
    """``o = sum_j softmax_j(scale * q.k_j) v_j`` over the unmasked keys, streaming.

    Golden: ``attnhw.golden.attention.attention``. Per query: ``head_dim // lanes`` beats on
    ``q`` (the scale is taken from the final one), then ``head_dim // lanes`` beats
    per key on ``kv`` with ``last`` on the final beat of the final key; the output
    row leaves on ``o`` as ``head_dim // lanes`` beats, ``last`` on the final one.
    The next query may be sent while the current one runs (double-buffered), so
    queries stream back to back. Any number of keys from 1 to ``max_seq_len``.

    Members
    -------
    q : ``In(stream.Signature(query_layout(params)))``
    kv : ``In(stream.Signature(kv_layout(params)))``
    o : ``Out(stream.Signature(out_layout(params)))``
        (with ``normalize=False``, ``row_layout`` of ``normaliser_lanes`` lanes: each
        slice in ``lanes / normaliser_lanes`` parts)
    err_last_misplaced : ``Out(1)``
        Sticky: a ``kv`` beat carried ``last`` but was not the final beat of a key; the
        flag was ignored (``attnhw.golden.framing``).
    err_too_many_keys : ``Out(1)``
        Sticky: a query reached ``max_seq_len`` keys without ``last``; the core closed
        it there and the following keys start the next query.
    clear_errors : ``In(1)``
        Clears both error flags (so does reset).

    Parameters
    ----------
    params : AttnParams
    normalize : bool
        ``False``: the core stops before the normaliser and ``o`` carries the
        accumulator's rows (``row_layout``: ``normaliser_lanes x s.(E+G)`` sums per
        beat, the row's ``sum``, ``last`` on the row's final beat), so that several
        cores can share one normaliser (:class:`attnhw.hdl.engine.AttentionEngine`).
    """

    def __init__(self, params, *, normalize=True):
        self.params = params
        self.normalize = normalize
        # Without the normaliser, a row leaves in parts of `normaliser_lanes` lanes: the
        # width the engine's shared (narrow) normaliser takes.
        self.row_parts = 1 if normalize else params.lanes // params.normaliser_lanes
        o_layout = (out_layout(params) if normalize
                    else narrow_layout(row_layout(params), "acc", self.row_parts))
        super().__init__({
            "q": In(stream.Signature(query_layout(params))),
            "kv": In(stream.Signature(kv_layout(params))),
            "o": Out(stream.Signature(o_layout)),
            "err_last_misplaced": Out(1),
            "err_too_many_keys": Out(1),
            "clear_errors": In(1),
        })
        self._dot = DotProduct(params, self._dot_tag())
        # A score arrives once per `slices` cycles: score x scale may take that long.
        self._scale = ScoreScale(params, data.StructLayout({"masked": 1, "last": 1}),
                                 key_spacing=params.slices)
        self._softmax = OnlineSoftmax(params, key_spacing=params.slices)

    def _dot_tag(self):
        return data.StructLayout({"scale": unsigned(self.params.scale_width),
                                  "masked": 1, "last": 1})

    @property
    def score_latency(self):
        """Cycles from a key's final beat to its weight leaving the softmax unit."""
        return self._dot.latency + self._scale.latency + self._softmax.latency

    @property
    def weight_fifo_depth(self):
        """Keys whose weights are computed or waiting for the accumulator: every key
        in the score pipeline at full rate (one per ``slices`` cycles), plus slack so
        the credit round trip (and the count's own place in hand) does not throttle a
        full-rate key stream."""
        return -(-self.score_latency // self.params.slices) + 5

    @property
    def value_buffer_depth(self):
        """Value slices in flight while their key's weight is computed and passes the
        weight FIFO (2 cycles), plus slack (the buffer's registered write, the credit
        count's place in hand and late release), so the value buffer never throttles
        a full-rate key stream; rounded up to a power of two (its pointers wrap)."""
        return 1 << (self.params.slices + self.score_latency + 2 + 7 - 1).bit_length()

    def elaborate(self, platform):
        m = Module()
        p = self.params
        slice_shape = slice_layout(p)

        # Query buffer: two banks of `slices` slices in one small RAM (LUT-RAM on
        # FPGAs), read asynchronously at the key's slice index. The q port fills bank
        # `fill` while keys are served from bank `serve`; a bank is `full` from its
        # query's final q beat to that query's final kv beat. No register bank needs a
        # wide enable, which keeps the control's fan-out small.
        # The address is {bank, slice index}: each bank spans a power of two, so a
        # slice count like 3 (head_dim 12, lanes 4) does not run bank 1 off the end.
        bank_span = 1 << (p.slices - 1).bit_length()
        m.submodules.query_ram = query_ram = Memory(
            shape=slice_shape, depth=2 * bank_span, init=[])
        q_write = query_ram.write_port()
        q_read = query_ram.read_port(domain="comb")
        bank_full = Signal(2)
        scales = [Signal(p.scale_width, name=f"scale{b}") for b in range(2)]
        fill, serve = Signal(), Signal()
        fill_idx = Signal(range(max(2, p.slices)))
        serving = Signal()               # == bank_full[serve], kept as its own register

        m.d.comb += self.q.ready.eq(~bank_full.bit_select(fill, 1))
        q_take = self.q.valid & self.q.ready
        q_done = q_take & (fill_idx == p.slices - 1)
        m.d.comb += [q_write.addr.eq(Cat(fill_idx, fill) if p.slices > 1 else fill),
                     q_write.data.eq(self.q.payload.q), q_write.en.eq(q_take)]
        with m.If(q_take):
            m.d.sync += fill_idx.eq(Mux(q_done, 0, fill_idx + 1))
        with m.If(q_done):
            m.d.sync += [scales[b].eq(Mux(fill == b, self.q.payload.scale, scales[b]))
                         for b in range(2)]
            m.d.sync += fill.eq(~fill)

        m.submodules.dot = dot = self._dot
        m.submodules.scale = scale = self._scale
        m.submodules.softmax = softmax = self._softmax
        # Value slices wait for their key's weight in a buffer of one LUT-RAM per lane
        # (attnhw.hdl.row_buffer), each with its own pointer and enable copies; a beat is
        # taken only with a place reserved there (`room`, a credit count), so no level
        # compare reaches the ~130 RAM bits.
        # Where the accumulator registers the values before its multipliers anyway, the
        # buffer reads them a cycle after their take instead (`late`), at copies of its
        # read pointer that need no enable: the accumulator's take then reaches a few
        # registers here, not every lane's address copy.
        late = Accumulator.late_values_possible(p)
        value_shape = data.StructLayout({"v": slice_shape})
        m.submodules.values = values = RowBuffer(value_shape, "v", self.value_buffer_depth,
                                                 late=late)
        m.submodules.weights = weights = SyncFIFOBuffered(
            width=weight_layout(p).size, depth=self.weight_fifo_depth)
        m.submodules.acc = acc = Accumulator(p, self.row_parts, late_values=late)

        # The score pipeline (dot product, scale, softmax) never stalls: its units see
        # `ready` tied high, so their enables are constant and vanish in synthesis.
        # Instead a key enters only with a place reserved for its weight in the weight
        # FIFO (`key_room`, a credit count of keys taken and weights not yet read).
        key_room = Signal()

        # `room`: a place is reserved in the value buffer (set below).
        room = Signal()

        # Key/value beats: k (with the matching q slice) to the dot product, v to the FIFO.
        # Framing (attnhw.golden.framing): `last` counts only on a key's final beat, and a query
        # closes after max_seq_len keys even without it, so the accumulators' bounds hold.
        kv = self.kv.payload
        kv_take = self.kv.valid & self.kv.ready
        slice_idx, _, end_of_key, end_of_query = key_framing(
            m, p, kv_take, kv.last, self.clear_errors,
            self.err_last_misplaced, self.err_too_many_keys)
        m.d.comb += [
            q_read.addr.eq(Cat(slice_idx, serve) if p.slices > 1 else serve),
            dot.i.valid.eq(self.kv.valid & serving & room & key_room),
            self.kv.ready.eq(dot.i.ready & serving & room & key_room),
            dot.i.payload.a.eq(q_read.data), dot.i.payload.b.eq(kv.k),
            dot.i.payload.last.eq(end_of_key),
            dot.i.payload.tag.scale.eq(Mux(serve, scales[1], scales[0])),
            dot.i.payload.tag.masked.eq(kv.masked), dot.i.payload.tag.last.eq(end_of_query),
        ]
        m.d.comb += [values.w_en.eq(kv_take), values.w_data.v.eq(kv.v)]
        m.d.comb += room.eq(credit_room(m, values.depth, kv_take,
                                        values.r.valid & values.r.ready, "values")[0])
        query_done = kv_take & end_of_query
        with m.If(query_done):
            m.d.sync += serve.eq(~serve)

        # Bank bookkeeping: a bank fills at its query's final q beat and empties at
        # that query's final kv beat; the two never concern the same bank in one cycle
        # (q only fills a bank that is not full, keys only drain a full one).
        # One expression, not an If chain: Yosys writes If chains as `always @*` blocks
        # that Icarus may never evaluate when their inputs do not change after time 0.
        next_full = Signal(2)
        m.d.comb += next_full.eq(Cat(
            (bank_full[b] | (q_done & (fill == b))) & ~(query_done & (serve == b))
            for b in range(2)))
        m.d.sync += [bank_full.eq(next_full),
                     serving.eq(next_full.bit_select(Mux(query_done, ~serve, serve), 1))]

        m.d.comb += key_room.eq(credit_room(
            m, self.weight_fifo_depth, kv_take & end_of_key, weights.r_en & weights.r_rdy,
            "weights")[0])

        # Score path, ready tied high (see `key_room`).
        m.d.comb += [
            scale.i.valid.eq(dot.o.valid), dot.o.ready.eq(scale.i.ready),
            scale.i.payload.score.eq(dot.o.payload.score),
            scale.i.payload.scale.eq(dot.o.payload.tag.scale),
            scale.i.payload.tag.masked.eq(dot.o.payload.tag.masked),
            scale.i.payload.tag.last.eq(dot.o.payload.tag.last),
            softmax.i.valid.eq(scale.o.valid), scale.o.ready.eq(softmax.i.ready),
            softmax.i.payload.x.eq(scale.o.payload.x),
            softmax.i.payload.masked.eq(scale.o.payload.tag.masked),
            softmax.i.payload.last.eq(scale.o.payload.tag.last),
            softmax.o.ready.eq(1),
            weights.w_en.eq(softmax.o.valid), weights.w_data.eq(softmax.o.payload),
        ]
        # Weighted sum; the accumulator's one-row output FIFO lets normalisation
        # overlap the next query.
        m.d.comb += [acc.weights.valid.eq(weights.r_rdy),
                     acc.weights.payload.eq(weights.r_data),
                     weights.r_en.eq(acc.weights.ready)]
        m.d.comb += [acc.values.valid.eq(values.r.valid),
                     values.r.ready.eq(acc.values.ready)]
        if late:
            m.d.comb += acc.values_late.eq(values.r_late.v)
        else:
            m.d.comb += acc.values.payload.eq(values.r.payload.v)
        if self.normalize:
            m.submodules.norm = norm = normalizer(p)
            wiring.connect(m, acc.o, norm.i)
            wiring.connect(m, norm.o, wiring.flipped(self.o))
        else:
            wiring.connect(m, acc.o, wiring.flipped(self.o))
        return m
