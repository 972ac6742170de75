"""On-chip K/V store: one head's keys and values in block RAM, two banks."""

from amaranth.hdl import C, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .block_ram import BlockRAM
from .credits import credit_room
from .framing import key_framing
from .layouts import kv_layout, slice_layout
from .pipeline import delay

__all__ = ["KVStore", "kv_pass_layout", "kv_read_layout"]


def kv_pass_layout(p):
    """A pass command: ``release`` (free the head's bank after this pass), ``active``
    (one bit per destination: it takes this pass) and ``limits`` (destination ``b``
    sees keys ``j >= limits[b]`` as masked)."""
    limit_w = p.max_seq_len.bit_length()
    return data.StructLayout({"release": 1, "active": p.block,
                              "limits": data.ArrayLayout(unsigned(limit_w), p.block)})


def kv_read_layout(p):
    """A slice read back: ``k``, ``v``, ``masked`` (per destination: the key's padding
    bit or beyond its limit), ``active`` (the destinations of this beat) and ``last``
    (the final beat of the pass)."""
    return data.StructLayout({"k": slice_layout(p), "v": slice_layout(p),
                              "masked": p.block, "active": p.block, "last": 1})


class KVStore(wiring.Component):
    """Holds the keys and values of two heads: the ``load`` port fills one bank while
    passes over the other stream out of ``o`` to up to ``block`` destinations (double
    buffering).

    Framing of ``load`` is the core's (``attnhw.golden.framing``): a head's keys end at the
    final beat of a key that carries ``last``, or after ``max_seq_len`` keys.

    The read side never stalls (``o`` has no ``ready``): it issues a read only when
    every destination of the pass holds a credit, a place reserved in the
    :attr:`credits`-deep buffer in front of it. A destination returns its credit by
    pulsing its bit of ``taken`` when a beat leaves that buffer. So no handshake
    reaches back into the RAM: its address, enable and output are registered
    (:class:`~attnhw.hdl.block_ram.BlockRAM`) and it reads every cycle.

    Members
    -------
    load : ``In(stream.Signature(kv_layout(params)))``
        ``head_dim // lanes`` beats per key, ``{k, v: lanes x s(w).0, masked: padding
        bit, last: final beat of the head's final key}``. Stalls while both banks hold
        heads not yet released.
    cmd : ``In(stream.Signature(kv_pass_layout(params)))``
        One beat per pass over the current head (see :func:`kv_pass_layout`). One
        command waits inside while a pass runs; ``ready`` is a flip-flop.
    o : ``Out(stream.Signature(kv_read_layout(params), always_ready=True))``
        The head's slices in order, key by key; ``last`` on the pass's final beat.
    taken : ``In(block)``
        Credit returns, one bit per destination.
    err_last_misplaced, err_too_many_keys : ``Out(1)``
        Sticky framing errors of ``load`` (as :class:`AttentionCore`'s).
    clear_errors : ``In(1)``

    Memory: ``2 * 2^ceil(log2 max_seq_len) * 2^ceil(log2 slices)`` words of
    ``2 * lanes * w + 1`` bits; one write port, one read port.
    Throughput: one slice per cycle on each port; passes follow back to back.
    Latency: a read leaves on ``o`` :attr:`latency` cycles after it is issued.
    """

    def __init__(self, params, credits):
        self.params = params
        self.credits = credits
        super().__init__({
            "load": In(stream.Signature(kv_layout(params))),
            "cmd": In(stream.Signature(kv_pass_layout(params))),
            "o": Out(stream.Signature(kv_read_layout(params), always_ready=True)),
            "taken": In(params.block),
            "err_last_misplaced": Out(1),
            "err_too_many_keys": Out(1),
            "clear_errors": In(1),
        })

    #: Cycles from an issued read to its beat on ``o``: the RAM's, with its read tree.
    latency = BlockRAM.LATENCY + 1

    def elaborate(self, platform):
        m = Module()
        p = self.params
        slice_bits = (p.slices - 1).bit_length()
        key_bits = max(1, (p.max_seq_len - 1).bit_length())
        word = data.StructLayout({"k": slice_layout(p), "v": slice_layout(p), "masked": 1})
        # Write and read through two register levels (write_tree, read_tree): the key
        # counters reach one address copy per RAM row, not every column group's. A pass
        # reads a word at the earliest 2 cycles after its write (a one-word head), and
        # the trees need 1.
        m.submodules.ram = ram = BlockRAM(word.size, 2 << (key_bits + slice_bits),
                                          write_tree=True, read_tree=True)
        assert ram.latency == self.latency and ram.read_after_write <= 2
        wr_data = Signal(word)
        rd_data = Signal(word)
        m.d.comb += [ram.w_data.eq(wr_data), rd_data.eq(ram.r_data)]

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
        m.d.comb += [ram.w_addr.eq(Cat(l_slice[:slice_bits], l_key, lbank)), ram.w_en.eq(l_take),
                     wr_data.k.eq(ld.k), wr_data.v.eq(ld.v), wr_data.masked.eq(ld.masked)]
        with m.If(l_done):
            m.d.sync += [last_key[b].eq(Mux(lbank == b, l_key, last_key[b])) for b in range(2)]
            m.d.sync += lbank.eq(~lbank)

        # Reader: passes over bank `rbank`, a read issued in every cycle in which each
        # of the pass's destinations has a credit.
        # Commands wait in two slots: the current pass reads slot `cur`, the next
        # command is taken into the other. `cmd.ready` is the flip-flop `~held`, so the
        # start decision below (credits, the pass's end) reaches no register outside
        # the store, and a start flips `cur` instead of copying a descriptor.
        slots = [Signal(kv_pass_layout(p), name=f"slot{n}") for n in range(2)]
        cur = Signal()
        held = Signal()                      # slot ~cur holds the next pass
        m.d.comb += self.cmd.ready.eq(~held)
        take = self.cmd.valid & ~held
        for n in range(2):
            with m.If(take & (cur != n)):
                m.d.sync += slots[n].eq(self.cmd.payload)

        rbank = Signal()
        active = Signal()                    # a pass is issuing reads
        dests = Signal(p.block)              # the current pass's `active` and `release`
        release = Signal()
        r_key = Signal(key_bits)
        r_slice = Signal(max(1, slice_bits))
        r_last_key = Signal(key_bits)        # the current head's final key
        issue = Signal()
        room = Cat(credit_room(m, self.credits, issue & dests[b], self.taken[b],
                               f"credits{b}")[0] for b in range(p.block))
        m.d.comb += issue.eq(active & (room | ~dests).all())
        m.d.comb += ram.r_addr.eq(Cat(r_slice[:slice_bits], r_key, rbank))
        # `final`: the read counters stand at the pass's final read, a register
        # computed a read ahead (from counters that only count up from 0).
        final = Signal()
        pass_end = issue & final
        freed = pass_end & release

        # The next pass may start in the cycle the current one issues its final read.
        next_full = Signal(2)
        m.d.comb += next_full.eq(Cat(
            (full[b] | (l_done & (lbank == b))) & ~(freed & (rbank == b)) for b in range(2)))
        bank = Signal()
        m.d.comb += bank.eq(Mux(freed, ~rbank, rbank))
        start = held & full.bit_select(bank, 1) & (~active | pass_end)
        m.d.sync += full.eq(next_full)
        with m.If(take):
            m.d.sync += held.eq(1)

        with m.If(issue):
            m.d.sync += r_slice.eq(Mux(r_slice == p.slices - 1, 0, r_slice + 1))
            with m.If(r_slice == p.slices - 1):
                m.d.sync += r_key.eq(Mux(final, 0, r_key + 1))
            if p.slices > 1:
                m.d.sync += final.eq((r_slice == p.slices - 2) & (r_key == r_last_key))
            else:
                m.d.sync += final.eq(r_key + 1 == r_last_key)
        with m.If(pass_end):
            m.d.sync += active.eq(0)
        with m.If(freed):
            m.d.sync += rbank.eq(~rbank)
        with m.If(start):
            # (the counters are at 0: the previous pass ended, now or before)
            new_last = Mux(bank, last_key[1], last_key[0])
            m.d.sync += [active.eq(1), cur.eq(~cur), held.eq(0),
                         dests.eq(Mux(cur, slots[0].active, slots[1].active)),
                         release.eq(Mux(cur, slots[0].release, slots[1].release)),
                         r_last_key.eq(new_last),
                         final.eq((new_last == 0) if p.slices == 1 else 0)]

        # Side information travels beside the read, through as many registers as the
        # RAM has; the limit masks are compared at issue time.
        side = data.StructLayout({"valid": 1, "masked": p.block, "active": p.block, "last": 1})
        stage = Signal(side)
        m.d.comb += [stage.valid.eq(issue), stage.active.eq(dests),
                     stage.last.eq(final),
                     stage.masked.eq(Cat(
                         r_key >= Mux(cur, slots[1].limits[b], slots[0].limits[b])
                         for b in range(p.block)))]
        stage = delay(m, C(1), stage, self.latency, "side")
        m.d.comb += [self.o.valid.eq(stage.valid), self.o.payload.active.eq(stage.active),
                     self.o.payload.last.eq(stage.last),
                     self.o.payload.masked.eq(stage.masked | rd_data.masked.replicate(p.block)),
                     self.o.payload.k.eq(rd_data.k), self.o.payload.v.eq(rd_data.v)]
        return m
