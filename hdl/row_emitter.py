"""The engine's emitter: normalised rows out, each head's final row marked."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .engine_layouts import engine_out_layout
from .layouts import out_layout
from .row_collector import block_descriptor_layout, walk_blocks
from .skid_buffer import SkidBuffer

__all__ = ["RowEmitter"]


class RowEmitter(wiring.Component):
    """Passes the normalised rows on (they leave the normaliser in the order they
    entered), counting them against its copy of the block descriptors to mark each
    row's final beat (``row_last``) and the head's final beat (``last``).

    Members
    -------
    rows : ``In(stream.Signature(out_layout(params)))``
        ``last`` on each row's final beat.
    desc : ``In(stream.Signature(block_descriptor_layout(block)))``
        One per block, in query order.
    o : ``Out(stream.Signature(engine_out_layout(params)))``
        Through a skid buffer (``ready`` from a flip-flop).
    """

    latency = SkidBuffer.latency

    def __init__(self, params):
        self.params = params
        super().__init__({
            "rows": In(stream.Signature(out_layout(params))),
            "desc": In(stream.Signature(block_descriptor_layout(params.block))),
            "o": Out(stream.Signature(engine_out_layout(params))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.skid = skid = SkidBuffer(engine_out_layout(self.params))
        row_end = self.rows.payload.last
        row_taken = Signal()
        _, head_end = walk_blocks(m, self.desc.payload, self.desc.ready, self.params.block,
                                  row_taken, "cur")
        m.d.comb += [skid.i.valid.eq(self.rows.valid & self.desc.valid),
                     self.rows.ready.eq(skid.i.ready & self.desc.valid),
                     skid.i.payload.o.eq(self.rows.payload.o),
                     skid.i.payload.row_last.eq(row_end),
                     skid.i.payload.last.eq(row_end & head_end),
                     row_taken.eq(skid.i.valid & skid.i.ready & row_end)]
        wiring.connect(m, skid.o, wiring.flipped(self.o))
        return m
