"""A core's K/V buffer in the engine: beats sent on credit, held in order."""

from amaranth.hdl import Module, Shape, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .replicate import KEEP

__all__ = ["KVBuffer"]


class KVBuffer(wiring.Component):
    """First in, first out, for beats that a sender issued only with a credit for a
    place here (:func:`attnhw.hdl.credits.credit_room`): a write is never refused, so
    the input has no ``ready``.

    Built for the placer rather than with ``SyncFIFOBuffered``: the storage (LUT RAM)
    is written in **every** cycle at the write pointer, which advances only with a
    beat, so no write enable exists. That write never lands on a beat not yet read:
    with the output register counted in the credits, ``depth`` places hold every
    unread beat, and when all of them do, the output register is empty, so the beat
    under the write pointer is read (moved out) in that same cycle. It is split into ``parts``
    memories of about equal width, each with its own copy of the write and the read
    pointer, of the level and of the output's ``valid``, so each part decides its own
    read (``pop``) and loads its own slice of the output register: the consumer's
    ``ready`` reaches ``parts`` LUTs, not the enable of every output flip-flop
    (nextpnr: 8.49 ns of routing from a core's ``serving`` to its buffer's output
    register, the floorplanned four-core engine's worst path at seed 3). In a
    ``SyncFIFOBuffered`` of a core's 258-bit beats, the enable (``valid``
    and the level's room) and the pointers reached every memory cell of the core's
    buffer, a net across the core (6.93 ns of routing, the two-core engine's worst
    path at one seed).

    Parameters
    ----------
    shape : ShapeLike
        Payload shape.
    depth : int
        Beats it holds (the sender's credits).
    parts : int
        Memories side by side, each with its own pointer copies.

    Members
    -------
    i : ``In(StructLayout({valid: 1, payload: shape}))``
        A beat in every cycle with ``valid``; at most ``depth`` held at once.
    o : ``Out(stream.Signature(shape))``
        Registered.

    Latency: :attr:`latency` cycles from a beat on ``i`` to it offered on ``o``.
    """

    latency = 2

    def __init__(self, shape, depth, parts=1):
        self.shape, self.depth = shape, depth
        self.width = Shape.cast(shape).width
        # Parts of whole 4-bit LUT RAM columns, none empty.
        self.part_bits = -(-self.width // (4 * parts)) * 4
        self.parts = -(-self.width // self.part_bits)
        super().__init__({"i": In(data.StructLayout({"valid": 1, "payload": shape})),
                          "o": Out(stream.Signature(shape))})

    @property
    def places(self):
        """Storage places: ``depth`` rounded up to a power of two."""
        return 1 << (self.depth - 1).bit_length()

    def elaborate(self, platform):
        m = Module()
        n = self.places
        bits = Value.cast(self.i.payload)
        payload = Value.cast(self.o.payload)
        for k in range(self.parts):
            lo, hi = k * self.part_bits, min(self.width, (k + 1) * self.part_bits)
            # This part's copies: beats written and not yet moved to the output
            # register, and whether that register holds a beat. Every part's copies
            # see the same inputs, so they stay equal.
            level = Signal(range(self.depth + 1), name=f"level{k}", attrs=KEEP)
            valid = Signal(name=f"valid{k}", attrs=KEEP)
            pop = Signal(name=f"pop{k}")
            m.d.comb += pop.eq((level != 0) & (~valid | self.o.ready))
            m.d.sync += level.eq(level + self.i.valid - pop)
            with m.If(pop):
                m.d.sync += valid.eq(1)
            with m.Elif(self.o.ready):
                m.d.sync += valid.eq(0)
            if k == 0:
                m.d.comb += self.o.valid.eq(valid)
            mem = m.submodules[f"storage{k}"] = Memory(shape=hi - lo, depth=n, init=[])
            w_ptr = Signal(range(n), name=f"w_ptr{k}", attrs=KEEP)
            r_ptr = Signal(range(n), name=f"r_ptr{k}", attrs=KEEP)
            wr = mem.write_port()
            rd = mem.read_port(domain="comb")
            m.d.comb += [wr.addr.eq(w_ptr), wr.data.eq(bits[lo:hi]), wr.en.eq(1),
                         rd.addr.eq(r_ptr)]
            with m.If(self.i.valid):
                m.d.sync += w_ptr.eq(w_ptr + 1)
            with m.If(pop):
                m.d.sync += [r_ptr.eq(r_ptr + 1), payload[lo:hi].eq(rd.data)]
        return m
