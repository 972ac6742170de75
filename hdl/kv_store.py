"""On-chip K/V store: one head's keys and values in block RAM, two banks."""

from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .framing import key_framing
from .layouts import kv_layout, slice_layout

__all__ = ["KVStore", "kv_read_layout"]


def kv_read_layout(p):
    """A slice read back: ``k``, ``v``, ``masked`` (the key's padding bit), ``key``
    (its index in the head) and ``last`` (the final beat of the pass)."""
    return data.StructLayout({"k": slice_layout(p), "v": slice_layout(p), "masked": 1,
                              "key": unsigned(max(1, (p.max_seq_len - 1).bit_length())),
                              "last": 1})


class KVStore(wiring.Component):
    """Holds the keys and values of two heads: the ``load`` port fills one bank while
    passes over the other stream out of ``o`` (double buffering).

    Framing of ``load`` is the core's (``golden.framing``): a head's keys end at the
    final beat of a key that carries ``last``, or after ``max_seq_len`` keys.

    Members
    -------
    load : ``In(stream.Signature(kv_layout(params)))``
        ``head_dim // lanes`` beats per key, ``{k, v: lanes x s(w).0, masked: padding
        bit, last: final beat of the head's final key}``. Stalls while both banks hold
        heads not yet released.
    cmd : ``In(stream.Signature(1))``
        One beat per pass over the current head; payload 1 releases the head after this
        pass (its bank may then be loaded again; the next pass reads the other bank).
    o : ``Out(stream.Signature(kv_read_layout(params)))``
        The head's slices in order, key by key; ``last`` on the pass's final beat.
    err_last_misplaced, err_too_many_keys : ``Out(1)``
        Sticky framing errors of ``load`` (as :class:`AttentionCore`'s).
    clear_errors : ``In(1)``

    Memory: ``2 * 2^ceil(log2 max_seq_len) * 2^ceil(log2 slices)`` words of
    ``2 * lanes * w + 1`` bits; one write port, one synchronous read port.
    Throughput: one slice per cycle on each port; passes follow back to back.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({
            "load": In(stream.Signature(kv_layout(params))),
            "cmd": In(stream.Signature(1)),
            "o": Out(stream.Signature(kv_read_layout(params))),
            "err_last_misplaced": Out(1),
            "err_too_many_keys": Out(1),
            "clear_errors": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        slice_bits = (p.slices - 1).bit_length()
        key_bits = max(1, (p.max_seq_len - 1).bit_length())
        word = data.StructLayout({"k": slice_layout(p), "v": slice_layout(p), "masked": 1})
        m.submodules.ram = ram = Memory(shape=word, depth=2 << (key_bits + slice_bits), init=[])
        wr = ram.write_port()
        rd = ram.read_port()

        full = Signal(2)                     # bank holds a head not yet released
        last_key = [Signal(key_bits, name=f"last_key{b}") for b in range(2)]   # its final key

        # Loader: bank `lbank`; key and slice counted by the framing rule.
        lbank = Signal()
        ld = self.load.payload
        m.d.comb += self.load.ready.eq(~full.bit_select(lbank, 1))
        l_take = self.load.valid & self.load.ready
        l_slice, l_key, _, l_end = key_framing(m, p, l_take, ld.last, self.clear_errors,
                                               self.err_last_misplaced, self.err_too_many_keys)
        l_done = l_take & l_end
        m.d.comb += [wr.addr.eq(Cat(l_slice[:slice_bits], l_key, lbank)), wr.en.eq(l_take),
                     wr.data.k.eq(ld.k), wr.data.v.eq(ld.v), wr.data.masked.eq(ld.masked)]
        with m.If(l_done):
            m.d.sync += [last_key[b].eq(Mux(lbank == b, l_key, last_key[b])) for b in range(2)]
            m.d.sync += lbank.eq(~lbank)

        # Reader: passes over bank `rbank`. `en` advances the one-stage read pipeline
        # (address -> registered RAM output); the RAM holds its output while stalled.
        rbank = Signal()
        active = Signal()                    # a pass is issuing reads
        release = Signal()                   # the current pass releases its bank
        r_key = Signal(key_bits)
        r_slice = Signal(max(1, slice_bits))
        r_last_key = Signal(key_bits)        # the current head's final key
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), rd.en.eq(en),
                     rd.addr.eq(Cat(r_slice[:slice_bits], r_key, rbank))]
        issue = en & active
        final = (r_slice == p.slices - 1) & (r_key == r_last_key)
        pass_end = issue & final
        freed = pass_end & release

        # The next pass may start in the cycle the current one issues its final read.
        next_full = Signal(2)
        m.d.comb += next_full.eq(Cat(
            (full[b] | (l_done & (lbank == b))) & ~(freed & (rbank == b)) for b in range(2)))
        bank = Signal()
        m.d.comb += bank.eq(Mux(freed, ~rbank, rbank))
        start = self.cmd.valid & full.bit_select(bank, 1) & (~active | pass_end)
        m.d.comb += self.cmd.ready.eq(start)
        m.d.sync += full.eq(next_full)

        with m.If(issue):
            m.d.sync += r_slice.eq(Mux(r_slice == p.slices - 1, 0, r_slice + 1))
            with m.If(r_slice == p.slices - 1):
                m.d.sync += r_key.eq(Mux(final, 0, r_key + 1))
        with m.If(pass_end):
            m.d.sync += active.eq(0)
        with m.If(freed):
            m.d.sync += rbank.eq(~rbank)
        with m.If(start):
            m.d.sync += [active.eq(1), release.eq(self.cmd.payload),
                         r_last_key.eq(Mux(bank, last_key[1], last_key[0]))]

        # Side information travels with the read, through the same enable.
        with m.If(en):
            m.d.sync += [self.o.valid.eq(issue), self.o.payload.key.eq(r_key),
                         self.o.payload.last.eq(final)]
        m.d.comb += [self.o.payload.k.eq(rd.data.k), self.o.payload.v.eq(rd.data.v),
                     self.o.payload.masked.eq(rd.data.masked)]
        return m
