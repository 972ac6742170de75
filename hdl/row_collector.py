"""The engine's collector: the ``block`` cores' accumulator rows, in query order, to one
normaliser."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import row_layout
from .replicate import register_copies

__all__ = ["block_descriptor_layout", "walk_blocks", "RowCollector"]


def block_descriptor_layout(block):
    """A block of queries as the output side sees it: ``count`` rows (one per core,
    cores ``0 .. count - 1``) and ``head_end`` (the head's final block)."""
    return data.StructLayout({"count": range(1, block + 1), "head_end": 1})


def walk_blocks(m, desc, desc_take, block, row_taken, name):
    """Walks the rows of the blocks that a queue of descriptors lists (``desc``, its
    head, a ``block_descriptor_layout`` view; ``desc_take``, its read strobe), one
    row per ``row_taken`` pulse (which the caller qualifies with the queue's valid),
    taking a descriptor at its block's final row. Returns the core whose row is due
    and whether that row ends its head (the head's final block, its final row)."""
    cur = Signal(range(max(2, block)), name=name)
    block_end = cur == desc.count - 1
    m.d.comb += desc_take.eq(row_taken & block_end)
    with m.If(row_taken):
        m.d.sync += cur.eq(Mux(block_end, 0, cur + 1))
    return cur, block_end & desc.head_end


class RowCollector(wiring.Component):
    """Takes the rows of each block from its cores in order (core 0 .. ``count - 1``,
    a row being beats of ``row_layout(params)``: ``params.lanes`` elements each, the
    engine's ``narrow_params``) and passes them on, one beat at a time, to a single
    sink (the block's shared normaliser).

    The cores sit apart on the die, so a beat crosses it in registered steps: every
    cycle each core's row beat is copied into a register beside it, whether taken or
    not; the cycle after a beat is taken, each lane selects its core's copy through
    its own copy of the core index and of the load pulse (no register drives the
    whole ~660-bit word), into the output register. A beat is taken only while
    nothing is in flight, so at most one beat per 3 cycles: the divider normaliser
    takes one per ``data_width + 2`` anyway; a one-beat-per-cycle sink (a reciprocal
    normaliser) then keeps pace with heads of ``N >= 3 * block`` keys.

    A row is ``params.slices`` beats: the collector counts them to know when a core's
    row ends, and does not read the row's ``last`` flag for it (passed on unread):
    that flag comes from the core's row memory, an asynchronous LUT-RAM read, and
    through the choice of the next row it reached the descriptor FIFO's level, the
    four-core engine's worst path at 2026-12-04 (9.33 ns, 7.3 of it routing across
    the die from core 3).

    Members
    -------
    rows : ``In(stream.Signature(row_layout(params))).array(block)``
        Core ``b``'s finished rows: ``{acc: lanes x s.(E+G), sum: u.(E+G), last: 1}``.
    desc : ``In(stream.Signature(block_descriptor_layout(block)))``
        One per block, in query order.
    o : ``Out(stream.Signature(row_layout(params)))``
        The rows in query order, ``latency`` cycles after each beat is taken.
    """

    latency = 2

    def __init__(self, params):
        self.params = params
        block = params.block
        super().__init__({
            "rows": In(stream.Signature(row_layout(params))).array(block),
            "desc": In(stream.Signature(block_descriptor_layout(block))),
            "o": Out(stream.Signature(row_layout(params))),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        B, L = p.block, p.lanes
        layout = row_layout(p)
        rows = list(self.rows)

        busy = Signal()        # a beat taken and not yet passed on
        issue = Signal()
        row_taken = Signal()
        cur, _ = walk_blocks(m, self.desc.payload, self.desc.ready, B, row_taken, "cur")
        beat = Signal(range(max(2, p.slices)))       # the beat taken next, in its row
        row_end = beat == p.slices - 1
        with m.If(issue):
            m.d.sync += beat.eq(Mux(row_end, 0, beat + 1))
        m.d.comb += [issue.eq(Cat(r.valid for r in rows).bit_select(cur, 1)
                              & self.desc.valid & ~busy),
                     row_taken.eq(issue & row_end)]
        for b, r in enumerate(rows):
            m.d.comb += r.ready.eq(issue & (cur == b))

        # Stage 1: each core's beat, registered beside the core every cycle (no
        # enable); the index of the core taken, and the load pulse, copied per lane.
        held = [Signal(layout, name=f"held{b}") for b in range(B)]
        m.d.sync += [h.eq(r.payload) for h, r in zip(held, rows)]
        sel = register_copies(m, cur, L + 1, "sel")
        load = register_copies(m, issue, L + 1, "load", reset_less=False)

        # Stage 2: the output register, lane by lane. Selects by shifts over an index
        # space padded to a power of two, not by `case`.
        span = 1 << len(cur)

        def pick(part, k):
            words = [part(h) for h in held]
            width = len(words[0])
            return Cat(*words, Const(0, width * (span - B))).word_select(sel[k], width)

        out = Signal(layout)
        for n in range(L):
            with m.If(load[n]):
                m.d.sync += out.acc[n].eq(pick(lambda h: h.acc[n], n))
        with m.If(load[L]):
            m.d.sync += [out.sum.eq(pick(lambda h: h.sum, L)),
                         out.last.eq(pick(lambda h: h.last, L))]
        out_valid = Signal()
        loaded = Signal()
        passed = self.o.valid & self.o.ready
        m.d.sync += [loaded.eq(issue),
                     out_valid.eq(loaded | (out_valid & ~self.o.ready)),
                     busy.eq(issue | (busy & ~passed))]
        m.d.comb += [self.o.valid.eq(out_valid), self.o.payload.eq(out)]
        return m
