"""The link's reply transmitter: a reply's header, its payload from a buffer, its CRC."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from attnhw.golden.link import CRC_INIT, SYNC_REPLY

from .crc16 import crc16_next

__all__ = ["LinkTransmitter", "reply_layout"]


def reply_layout():
    """A reply to send: ``status``, ``seq`` and ``length`` (payload bytes, in the reply
    buffer from address 0)."""
    return data.StructLayout({"status": 8, "seq": 8, "length": 16})


class LinkTransmitter(wiring.Component):
    """Sends a reply frame (:mod:`attnhw.golden.link`): ``SYNC_REPLY``, status, seq,
    length, the reply buffer's first ``length`` bytes, CRC. ``reply`` is taken when
    the frame's final byte has gone to ``o``; the buffer must not change before.

    Members
    -------
    reply : ``In(stream.Signature(reply_layout()))``
    o : ``Out(stream.Signature(8))``
        Bytes for the UART.
    w_addr : ``In(range(size))``, w_data : ``In(8)``, w_en : ``In(1)``
        The reply buffer's write port.
    """

    def __init__(self, size):
        self.size = size
        super().__init__({"reply": In(stream.Signature(reply_layout())),
                          "o": Out(stream.Signature(8)),
                          "w_addr": In(range(size)), "w_data": In(8), "w_en": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.buf = buf = Memory(shape=8, depth=self.size, init=[])
        wr = buf.write_port()
        rd = buf.read_port()
        m.d.comb += [wr.addr.eq(self.w_addr), wr.data.eq(self.w_data), wr.en.eq(self.w_en)]

        r = self.reply.payload
        crc = Signal(16)
        sent = Signal(16)                     # payload bytes sent
        m.d.comb += rd.addr.eq(sent)

        def byte(state, value, nxt, *, counted=True):
            with m.State(state):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(value)]
                with m.If(self.o.ready):
                    if counted:
                        m.d.sync += crc.eq(crc16_next(crc, value))
                    m.next = nxt

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.reply.valid):
                    m.d.sync += [crc.eq(CRC_INIT), sent.eq(0)]
                    m.next = "SYNC"
            byte("SYNC", SYNC_REPLY, "STATUS", counted=False)
            byte("STATUS", r.status, "SEQ")
            byte("SEQ", r.seq, "LEN_LO")
            byte("LEN_LO", r.length[:8], "LEN_HI")
            with m.State("LEN_HI"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(r.length[8:])]
                with m.If(self.o.ready):
                    m.d.sync += crc.eq(crc16_next(crc, r.length[8:]))
                    with m.If(r.length == 0):
                        m.next = "CRC_LO"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):     # rd.data is the byte at `sent` (read a cycle ago)
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(rd.data)]
                with m.If(self.o.ready):
                    m.d.sync += [crc.eq(crc16_next(crc, rd.data)), sent.eq(sent + 1)]
                    m.next = "WAIT"
                    with m.If(sent + 1 == r.length):
                        m.next = "CRC_LO"
            with m.State("WAIT"):        # the next byte's read
                m.next = "PAYLOAD"
            byte("CRC_LO", crc[:8], "CRC_HI", counted=False)
            with m.State("CRC_HI"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(crc[8:])]
                with m.If(self.o.ready):
                    m.d.comb += self.reply.ready.eq(1)
                    m.next = "IDLE"
        return m
