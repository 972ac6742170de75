"""The attention core: one query against a stream of keys and values."""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .accumulator import Accumulator
from .dot_product import DotProduct
from .layouts import kv_layout, out_layout, query_layout, row_layout, slice_layout
from .normalize import Normalize
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
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "q": In(stream.Signature(query_layout(params))),
            "kv": In(stream.Signature(kv_layout(params))),
            "o": Out(stream.Signature(out_layout(params))),
        })
        self._dot = DotProduct(params, self._dot_tag())
        self._softmax = OnlineSoftmax(params)

    def _dot_tag(self):
        return data.StructLayout({"scale": unsigned(self.params.scale_width),
                                  "masked": 1, "last": 1})

    @property
    def score_latency(self):
        """Cycles from a key's final beat to its weight leaving the softmax unit."""
        return (self._dot.latency + ScoreScale.latency + self._softmax.latency
                + 3 * SkidBuffer.latency)

    @property
    def value_fifo_depth(self):
        """Value slices in flight while their key's weight is computed, plus slack,
        so the value FIFO never throttles a full-rate key stream."""
        return self.params.slices + self.score_latency + 4

    def elaborate(self, platform):
        m = Module()
        p = self.params
        slice_shape = slice_layout(p)

        # Query buffers: `shadow` fills from the q port while `active` serves keys.
        # Both are rings of slices that rotate by one slice per beat.
        shadow = [Signal(slice_shape, name=f"shadow{s}") for s in range(p.slices)]
        active = [Signal(slice_shape, name=f"active{s}") for s in range(p.slices)]
        shadow_scale = Signal(p.scale_width)
        active_scale = Signal(p.scale_width)
        shadow_count = Signal(range(max(2, p.slices)))
        shadow_full = Signal()           # a register: q.ready comes straight from a FF
        active_valid = Signal()

        m.d.comb += self.q.ready.eq(~shadow_full)
        q_take = self.q.valid & self.q.ready
        with m.If(q_take):
            m.d.sync += [a.eq(b) for a, b in zip(shadow, shadow[1:] + [self.q.payload.q])]
            m.d.sync += shadow_scale.eq(self.q.payload.scale)
            with m.If(shadow_count == p.slices - 1):
                m.d.sync += [shadow_count.eq(0), shadow_full.eq(1)]
            with m.Else():
                m.d.sync += shadow_count.eq(shadow_count + 1)

        m.submodules.dot = dot = self._dot
        m.submodules.scale = scale = ScoreScale(p, data.StructLayout({"masked": 1, "last": 1}))
        m.submodules.softmax = softmax = self._softmax
        m.submodules.values = values = SyncFIFOBuffered(
            width=slice_shape.size, depth=self.value_fifo_depth)
        m.submodules.acc = acc = Accumulator(p)
        m.submodules.rows = rows = SyncFIFOBuffered(width=row_layout(p).size, depth=p.slices)
        m.submodules.norm = norm = Normalize(p)

        # Key/value beats: k (with the matching q slice) to the dot product, v to the FIFO.
        slice_idx = Signal(range(max(2, p.slices)))  # >= 1 bit: no zero-width wire in Verilog
        kv = self.kv.payload
        end_of_key = (slice_idx == p.slices - 1) | kv.last
        m.d.comb += [
            dot.i.valid.eq(self.kv.valid & active_valid & values.w_rdy),
            self.kv.ready.eq(dot.i.ready & active_valid & values.w_rdy),
            dot.i.payload.a.eq(active[0]), dot.i.payload.b.eq(kv.k),
            dot.i.payload.last.eq(end_of_key),
            dot.i.payload.tag.scale.eq(active_scale),
            dot.i.payload.tag.masked.eq(kv.masked), dot.i.payload.tag.last.eq(kv.last),
            values.w_en.eq(self.kv.valid & self.kv.ready), values.w_data.eq(kv.v),
        ]
        kv_take = self.kv.valid & self.kv.ready
        with m.If(kv_take):
            m.d.sync += slice_idx.eq(Mux(end_of_key, 0, slice_idx + 1))
            m.d.sync += [a.eq(b) for a, b in zip(active, active[1:] + [active[0]])]
        query_done = kv_take & kv.last
        # Swap buffers when the active query is finished (or empty) and the next is in.
        with m.If((~active_valid | query_done) & shadow_full):
            m.d.sync += [a.eq(b) for a, b in zip(active, shadow)]
            m.d.sync += [active_scale.eq(shadow_scale), active_valid.eq(1), shadow_full.eq(0)]
        with m.Elif(query_done):
            m.d.sync += active_valid.eq(0)

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
