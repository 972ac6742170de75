"""The attention core: one query against a stream of keys and values."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .accumulator import Accumulator
from .dot_product import DotProduct
from .framing import key_framing
from .layouts import kv_layout, out_layout, query_layout, row_layout, slice_layout
from .normalize_recip import normalizer
from .online_softmax import OnlineSoftmax
from .score_scale import ScoreScale
from .skid_buffer import SkidBuffer

__all__ = ["AttentionCore"]


class AttentionCore(wiring.Component):
    """``o = sum_j softmax_j(scale * q.k_j) v_j`` over the unmasked keys, streaming.

    Golden: ``golden.attention.attention``. Per query: ``head_dim // lanes`` beats on
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
    err_last_misplaced : ``Out(1)``
        Sticky: a ``kv`` beat carried ``last`` but was not the final beat of a key; the
        flag was ignored (``golden.framing``).
    err_too_many_keys : ``Out(1)``
        Sticky: a query reached ``max_seq_len`` keys without ``last``; the core closed
        it there and the following keys start the next query.
    clear_errors : ``In(1)``
        Clears both error flags (so does reset).
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "q": In(stream.Signature(query_layout(params))),
            "kv": In(stream.Signature(kv_layout(params))),
            "o": Out(stream.Signature(out_layout(params))),
            "err_last_misplaced": Out(1),
            "err_too_many_keys": Out(1),
            "clear_errors": In(1),
        })
        self._dot = DotProduct(params, self._dot_tag())
        self._scale = ScoreScale(params, data.StructLayout({"masked": 1, "last": 1}))
        self._softmax = OnlineSoftmax(params)

    def _dot_tag(self):
        return data.StructLayout({"scale": unsigned(self.params.scale_width),
                                  "masked": 1, "last": 1})

    @property
    def score_latency(self):
        """Cycles from a key's final beat to its weight leaving the softmax unit."""
        return (self._dot.latency + self._scale.latency + self._softmax.latency
                + 3 * SkidBuffer.latency)

    @property
    def value_fifo_depth(self):
        """Value slices in flight while their key's weight is computed, plus slack,
        so the value FIFO never throttles a full-rate key stream."""
        return self.params.slices + self.score_latency + 6

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
        m.submodules.values = values = SyncFIFOBuffered(
            width=slice_shape.size, depth=self.value_fifo_depth)
        m.submodules.acc = acc = Accumulator(p)
        # Depth 2 would leave SyncFIFOBuffered a 1-entry inner FIFO with a zero-width
        # address, which Amaranth emits as `[-1:0]` and Verilator rejects: use 3.
        m.submodules.rows = rows = SyncFIFOBuffered(width=row_layout(p).size,
                                                    depth=3 if p.slices == 2 else p.slices)
        m.submodules.norm = norm = normalizer(p)

        # `room`: the value FIFO can take a beat. A register computed from the previous
        # level with one place to spare (at most one write happened since), so the kv
        # handshake does not wait on the FIFO's level comparison.
        room = Signal()
        m.d.sync += room.eq(values.level < values.depth - 1)

        # Key/value beats: k (with the matching q slice) to the dot product, v to the FIFO.
        # Framing (golden.framing): `last` counts only on a key's final beat, and a query
        # closes after max_seq_len keys even without it, so the accumulators' bounds hold.
        kv = self.kv.payload
        kv_take = self.kv.valid & self.kv.ready
        slice_idx, _, end_of_key, end_of_query = key_framing(
            m, p, kv_take, kv.last, self.clear_errors,
            self.err_last_misplaced, self.err_too_many_keys)
        m.d.comb += [
            q_read.addr.eq(Cat(slice_idx, serve) if p.slices > 1 else serve),
            dot.i.valid.eq(self.kv.valid & serving & room),
            self.kv.ready.eq(dot.i.ready & serving & room),
            dot.i.payload.a.eq(q_read.data), dot.i.payload.b.eq(kv.k),
            dot.i.payload.last.eq(end_of_key),
            dot.i.payload.tag.scale.eq(Mux(serve, scales[1], scales[0])),
            dot.i.payload.tag.masked.eq(kv.masked), dot.i.payload.tag.last.eq(end_of_query),
            values.w_en.eq(kv_take), values.w_data.eq(kv.v),
        ]
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

        # Score path. Skid buffers between the units keep `ready` from rippling
        # combinationally from the accumulator back to the kv port.
        m.submodules.skid_score = skid_score = SkidBuffer(dot.o.payload.shape())
        m.submodules.skid_x = skid_x = SkidBuffer(scale.o.payload.shape())
        m.submodules.skid_weight = skid_weight = SkidBuffer(softmax.o.payload.shape())
        wiring.connect(m, dot.o, skid_score.i)
        wiring.connect(m, scale.o, skid_x.i)
        wiring.connect(m, softmax.o, skid_weight.i)
        score, x = skid_score.o, skid_x.o
        m.d.comb += [
            scale.i.valid.eq(score.valid), score.ready.eq(scale.i.ready),
            scale.i.payload.score.eq(score.payload.score),
            scale.i.payload.scale.eq(score.payload.tag.scale),
            scale.i.payload.tag.masked.eq(score.payload.tag.masked),
            scale.i.payload.tag.last.eq(score.payload.tag.last),
            softmax.i.valid.eq(x.valid), x.ready.eq(softmax.i.ready),
            softmax.i.payload.x.eq(x.payload.x),
            softmax.i.payload.masked.eq(x.payload.tag.masked),
            softmax.i.payload.last.eq(x.payload.tag.last),
        ]
        # Weighted sum, then a one-row FIFO so normalisation overlaps the next query.
        wiring.connect(m, skid_weight.o, acc.weights)
        wiring.connect(m, values.r_stream, acc.values)
        wiring.connect(m, acc.o, rows.w_stream)
        wiring.connect(m, rows.r_stream, norm.i)
        wiring.connect(m, norm.o, wiring.flipped(self.o))
        return m
