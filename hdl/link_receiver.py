"""The link's frame receiver: bytes in, a checked frame (header, payload in a buffer) out."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from attnhw.golden.link import CRC_INIT, SYNC_COMMAND, Status

from .crc16 import crc16_next

__all__ = ["LinkReceiver", "frame_layout"]


def frame_layout():
    """A received frame: ``code``, ``seq``, ``length`` (payload bytes, in the buffer
    from address 0) and ``status`` (:class:`~attnhw.golden.link.Status`: ``OK``, or
    why the frame is refused: ``BAD_CRC``, ``BAD_LENGTH``, ``TIMEOUT``)."""
    return data.StructLayout({"code": 8, "seq": 8, "length": 16, "status": 8})


class LinkReceiver(wiring.Component):
    """Hunts for :data:`~attnhw.golden.link.SYNC_COMMAND`, reads a frame's header,
    writes its payload into a buffer and checks its CRC (:mod:`attnhw.golden.link`).

    A ``LEN`` above ``max_payload`` ends the frame at its header with ``BAD_LENGTH``;
    a frame that stops for ``timeout`` cycles between two bytes ends with ``TIMEOUT``.
    Either way, and after a CRC mismatch, the frame is offered with that status and
    the receiver hunts again: a refused frame is only a status.

    Bytes that arrive while a frame is offered and not yet taken are dropped (the host
    sends a frame only after the reply to the previous one, or after its timeout), so
    the buffer stays as the offered frame left it until ``frame`` is taken.

    Members
    -------
    i : ``In(stream.Signature(8, always_ready=True))``
        Bytes from the UART.
    frame : ``Out(stream.Signature(frame_layout()))``
    buf_addr : ``In(range(max_payload))``, buf_data : ``Out(8)``
        The payload buffer's read port: ``buf_data`` is the byte at the address of the
        previous cycle.
    """

    def __init__(self, max_payload, timeout):
        self.max_payload, self.timeout = max_payload, timeout
        super().__init__({"i": In(stream.Signature(8, always_ready=True)),
                          "frame": Out(stream.Signature(frame_layout())),
                          "buf_addr": In(range(max_payload)), "buf_data": Out(8)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.buf = buf = Memory(shape=8, depth=self.max_payload, init=[])
        wr = buf.write_port()
        rd = buf.read_port()
        m.d.comb += [rd.addr.eq(self.buf_addr), self.buf_data.eq(rd.data)]

        f = self.frame.payload
        byte = self.i.payload
        crc = Signal(16)
        count = Signal(16)                    # payload bytes received
        crc_low = Signal(8)
        idle = Signal(range(self.timeout + 1))
        m.d.comb += [wr.addr.eq(count), wr.data.eq(byte)]
        with m.If(self.frame.valid & self.frame.ready):
            m.d.sync += self.frame.valid.eq(0)

        def end(status):
            m.d.sync += [f.status.eq(status), self.frame.valid.eq(1)]
            m.next = "HUNT"

        with m.FSM():
            with m.State("HUNT"):
                with m.If(self.i.valid & ~self.frame.valid & (byte == SYNC_COMMAND)):
                    m.d.sync += [crc.eq(CRC_INIT), count.eq(0), idle.eq(0)]
                    m.next = "CODE"
            for state, nxt in (("CODE", "SEQ"), ("SEQ", "LEN_LO"), ("LEN_LO", "LEN_HI"),
                               ("LEN_HI", None), ("PAYLOAD", None), ("CRC_LO", "CRC_HI"),
                               ("CRC_HI", None)):
                with m.State(state):
                    with m.If(self.i.valid):
                        m.d.sync += idle.eq(0)
                        if state not in ("CRC_LO", "CRC_HI"):
                            m.d.sync += crc.eq(crc16_next(crc, byte))
                        if nxt is not None:
                            m.next = nxt
                        if state == "CODE":
                            m.d.sync += f.code.eq(byte)
                        elif state == "SEQ":
                            m.d.sync += f.seq.eq(byte)
                        elif state == "LEN_LO":
                            m.d.sync += f.length[:8].eq(byte)
                        elif state == "LEN_HI":
                            m.d.sync += f.length[8:].eq(byte)
                            length = Cat(f.length[:8], byte)
                            with m.If(length > self.max_payload):
                                end(Status.BAD_LENGTH)
                            with m.Elif(length == 0):
                                m.next = "CRC_LO"
                            with m.Else():
                                m.next = "PAYLOAD"
                        elif state == "PAYLOAD":
                            m.d.comb += wr.en.eq(1)
                            m.d.sync += count.eq(count + 1)
                            with m.If(count + 1 == f.length):
                                m.next = "CRC_LO"
                        elif state == "CRC_LO":
                            m.d.sync += crc_low.eq(byte)
                        else:
                            end(Mux(Cat(crc_low, byte) == crc, Status.OK, Status.BAD_CRC))
                    with m.Elif(idle == self.timeout):
                        end(Status.TIMEOUT)
                    with m.Else():
                        m.d.sync += idle.eq(idle + 1)
        return m
