"""A FIFO for wide rows, split into one small RAM per lane."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .replicate import register_copies

__all__ = ["RowBuffer"]


class RowBuffer(wiring.Component):
    """First in, first out, for ``layout``'s words, which are mostly an array of
    ``lanes`` wide elements: each element is kept in its own small RAM (LUT-RAM on
    FPGAs) with its own copies of the write enable and of both pointers, so no
    control signal reaches the whole ~700-bit word. Reads are asynchronous.

    The writer must hold a credit for each word it writes (``attnhw.hdl.credits``): there is
    no ``w_ready``, and a write into a full buffer is lost.

    Parameters
    ----------
    layout : StructLayout
        The word; its field ``lanes_field`` is an ``ArrayLayout`` split per element,
        the other fields (if any) share one more RAM.
    lanes_field : str
    depth : int
        Words, a power of two (the pointers wrap).

    Members
    -------
    w_en : ``In(1)``, w_data : ``In(layout)``
        A word to append.
    r : ``Out(stream.Signature(layout))``
        The oldest word, read asynchronously.
    """

    def __init__(self, layout, lanes_field, depth):
        assert depth >= 2 and depth & (depth - 1) == 0, "depth must be a power of two"
        self.layout, self.lanes_field, self.depth = layout, lanes_field, depth
        super().__init__({"w_en": In(1), "w_data": In(layout),
                          "r": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        lanes = self.layout[self.lanes_field].shape
        rest = data.StructLayout({name: field.shape for name, field in self.layout
                                  if name != self.lanes_field})
        parts = lanes.length + (1 if rest.size else 0)
        addr = range(self.depth)
        r_take = self.r.valid & self.r.ready

        # Writes are registered (data, address and enable copies): a word is written
        # one cycle after `w_en` and readable the cycle after. `level` counts the
        # readable words, so it follows the registered enable.
        w_ptr, r_ptr = Signal(addr), Signal(addr)
        w_en = register_copies(m, self.w_en, parts + 1, "w_en", reset_less=False)   # + level
        level = Signal(range(self.depth + 1))
        m.d.sync += level.eq(level + w_en[parts] - r_take)
        # `r.valid` (level != 0) is a register of its own, so the reader's handshake,
        # which enables every lane's read pointer, starts at a flip-flop; its next
        # value needs no adder: a write makes a word readable, a read leaves one if
        # there were two.
        valid = Signal()
        m.d.sync += valid.eq(w_en[parts] | Mux(r_take, level >= 2, valid))
        m.d.comb += self.r.valid.eq(valid)
        w_addr = register_copies(m, w_ptr, parts, "w_addr")
        r_addr = register_copies(m, r_ptr + 1, parts, "r_addr", en=r_take, reset_less=False)
        with m.If(self.w_en):
            m.d.sync += w_ptr.eq(w_ptr + 1)
        with m.If(r_take):
            m.d.sync += r_ptr.eq(r_ptr + 1)

        w_data = Signal(self.layout)
        m.d.sync += w_data.eq(self.w_data)
        words = [(w_data[self.lanes_field][n], self.r.payload[self.lanes_field][n], lanes.elem_shape)
                 for n in range(lanes.length)]
        w_rest, r_rest = Signal(rest), Signal(rest)
        for name, _ in rest:
            m.d.comb += [w_rest[name].eq(w_data[name]), self.r.payload[name].eq(r_rest[name])]
        if rest.size:
            words.append((w_rest, r_rest, rest))
        for n, (wd, rd, shape) in enumerate(words):
            mem = m.submodules[f"ram{n}"] = Memory(shape=shape, depth=self.depth, init=[])
            wp, rp = mem.write_port(), mem.read_port(domain="comb")
            m.d.comb += [wp.en.eq(w_en[n]), wp.addr.eq(w_addr[n]), wp.data.eq(wd),
                         rp.addr.eq(r_addr[n]), rd.eq(rp.data)]
        return m
