"""A FIFO for wide rows, split into one small RAM per lane."""

from amaranth.hdl import C, Cat, Const, Module, Mux, Shape, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .replicate import register_copies

__all__ = ["RowBuffer", "narrow_layout"]


def narrow_layout(layout, lanes_field, parts):
    """``layout`` with its array field ``lanes_field`` cut to ``1 / parts`` of its
    elements (the field order kept): a part of a word."""
    def shape(name, field):
        if name != lanes_field:
            return field.shape
        return data.ArrayLayout(field.shape.elem_shape, field.shape.length // parts)
    return data.StructLayout({name: shape(name, field) for name, field in layout})


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
    parts : int
        Beats each word leaves in, dividing the elements: elements ``0 … n/parts − 1``
        first (``narrow_layout``; the other fields repeat on every part). Each part's
        element ``j`` is picked from ``parts`` RAMs by its own copy of the part index:
        a word written whole leaves narrow, with no wide register in between.

    Members
    -------
    w_en : ``In(1)``, w_data : ``In(layout)``
        A word to append.
    r : ``Out(stream.Signature(narrow_layout(layout, lanes_field, parts)))``
        The oldest word (its next part), read asynchronously.
    r_final : ``Out(1)``
        ``r`` carries the word's final part.
    r_late : ``Out(layout)``, with ``late``
        The word taken from ``r`` in the previous cycle (``r.payload`` is then not
        driven): read at registered copies of the read pointer, which need no enable,
        so the reader's handshake reaches a few registers instead of every RAM's
        address copy. For a reader that registers the word anyway.
    """

    def __init__(self, layout, lanes_field, depth, *, parts=1, late=False):
        assert depth >= 2 and depth & (depth - 1) == 0, "depth must be a power of two"
        assert layout[lanes_field].shape.length % parts == 0, "parts must divide the elements"
        assert not (late and parts > 1), "a late read gives whole words"
        self.layout, self.lanes_field, self.depth, self.parts = layout, lanes_field, depth, parts
        self.late = late
        super().__init__({"w_en": In(1), "w_data": In(layout),
                          "r": Out(stream.Signature(narrow_layout(layout, lanes_field, parts))),
                          "r_final": Out(1),
                          **({"r_late": Out(layout)} if late else {})})

    def elaborate(self, platform):
        m = Module()
        lanes = self.layout[self.lanes_field].shape
        rest = data.StructLayout({name: field.shape for name, field in self.layout
                                  if name != self.lanes_field})
        parts = lanes.length + (1 if rest.size else 0)
        addr = range(self.depth)
        r_take = self.r.valid & self.r.ready
        # The part on `r`: the read pointer moves on at a word's final part.
        # (With one part every read is a word's final part: no counter, no logic on
        # the reader's handshake path.)
        k = lanes.length // self.parts
        if self.parts > 1:
            part = Signal(range(self.parts))
            final = part == self.parts - 1
            part_next = Mux(final, 0, part + 1)
            with m.If(r_take):
                m.d.sync += part.eq(part_next)
        else:
            final, part_next = C(1), C(0)
        r_word = r_take & final
        m.d.comb += self.r_final.eq(final)

        # Writes are registered (data, address and enable copies): a word is written
        # one cycle after `w_en` and readable the cycle after. `level` counts the
        # readable words, so it follows the registered enable.
        w_ptr, r_ptr = Signal(addr), Signal(addr)
        w_en = register_copies(m, self.w_en, parts + 1, "w_en", reset_less=False)   # + level
        level = Signal(range(self.depth + 1))
        m.d.sync += level.eq(level + w_en[parts] - r_word)
        # `r.valid` (level != 0) is a register of its own, so the reader's handshake,
        # which enables every lane's read pointer, starts at a flip-flop; its next
        # value needs no adder: a write makes a word readable, a read leaves one if
        # there were two.
        valid = Signal()
        m.d.sync += valid.eq(w_en[parts] | Mux(r_word, level >= 2, valid))
        m.d.comb += self.r.valid.eq(valid)
        w_addr = register_copies(m, w_ptr, parts, "w_addr")
        if self.late:
            # A cycle after a take, r_ptr's old value: the word taken.
            r_addr = register_copies(m, r_ptr, parts, "late_addr")
        else:
            r_addr = register_copies(m, r_ptr + 1, parts, "r_addr", en=r_word, reset_less=False)
        with m.If(self.w_en):
            m.d.sync += w_ptr.eq(w_ptr + 1)
        with m.If(r_word):
            m.d.sync += r_ptr.eq(r_ptr + 1)

        w_data = Signal(self.layout)
        m.d.sync += w_data.eq(self.w_data)
        read = Signal(self.layout[self.lanes_field].shape)     # every element's RAM output
        words = [(w_data[self.lanes_field][n], read[n], lanes.elem_shape)
                 for n in range(lanes.length)]
        # Element j of the part: RAM q*k + j of part q, selected by a shift over an index
        # space padded to a power of two (not a `case`), by its own select copy.
        sel = (register_copies(m, part_next, k, "part_sel", en=r_take, reset_less=False)
               if self.parts > 1 else None)
        span = 1 << (self.parts - 1).bit_length()
        width = Shape.cast(lanes.elem_shape).width
        out = self.r_late if self.late else self.r.payload
        for j in range(k):
            options = [Value.cast(read[q * k + j]) for q in range(self.parts)]
            m.d.comb += out[self.lanes_field][j].eq(
                Cat(*options, Const(0, width * (span - self.parts))).word_select(sel[j], width)
                if self.parts > 1 else options[0])
        w_rest, r_rest = Signal(rest), Signal(rest)
        for name, _ in rest:
            m.d.comb += [w_rest[name].eq(w_data[name]), out[name].eq(r_rest[name])]
        if rest.size:
            words.append((w_rest, r_rest, rest))
        for n, (wd, rd, shape) in enumerate(words):
            mem = m.submodules[f"ram{n}"] = Memory(shape=shape, depth=self.depth, init=[])
            wp, rp = mem.write_port(), mem.read_port(domain="comb")
            m.d.comb += [wp.en.eq(w_en[n]), wp.addr.eq(w_addr[n]), wp.data.eq(wd),
                         rp.addr.eq(r_addr[n]), rd.eq(rp.data)]
        return m
