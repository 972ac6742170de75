"""A board's top without its clock and pads: the engine behind a UART host link."""

import dataclasses

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from attnhw.golden.link import beat_bytes

from .axis_engine import AxisEngine
from .link_executor import STATUS_SUFFIX_BYTES, LinkExecutor, beat_layout
from .link_receiver import LinkReceiver
from .link_transmitter import LinkTransmitter
from .stream_fifo import StreamFIFO
from .uart import UARTRx, UARTTx, check_divisor

__all__ = ["BoardLink", "LinkParams"]


@dataclasses.dataclass(frozen=True)
class LinkParams:
    """The host link's sizes.

    divisor : clocks per UART bit (clock / baud rate), at least 4.
    max_payload : bytes a frame's payload holds at most (the receive buffer).
    out_fifo_depth : output beats the board holds for ``READ_OUT``; the host keeps
        fewer than this outstanding, so the engine never waits on the link.
    timeout_bytes : a frame that stops for this many byte times is refused (cut short).
    """
    divisor: int = 26                 # 78 MHz / 3 Mbaud
    max_payload: int = 1024
    out_fifo_depth: int = 256
    timeout_bytes: int = 64

    def __post_init__(self):
        check_divisor(self.divisor)
        for name in ("max_payload", "out_fifo_depth", "timeout_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"link {name} {value!r}: a positive int")

    @property
    def timeout_cycles(self):
        """Cycles between two bytes of a frame after which it is refused."""
        return self.timeout_bytes * 10 * self.divisor


def link_beat_bits(p):
    """Data bits of a ``(kv, q, out)`` beat on the link for engine parameters ``p``."""
    lane_bits = p.lanes * p.data_width
    out_bits = p.proj_lanes * p.data_width if p.out_proj else p.lanes * p.out_width
    return 2 * lane_bits, lane_bits, out_bits


class BoardLink(wiring.Component):
    """:class:`AxisEngine` driven over a UART by the framed protocol of
    :mod:`attnhw.golden.link`: UART receiver -> :class:`LinkReceiver` ->
    :class:`LinkExecutor` (engine streams and registers, an output FIFO of
    ``out_fifo_depth`` beats) -> :class:`LinkTransmitter` -> UART transmitter.

    Members
    -------
    rx : ``In(1)``, tx : ``Out(1)``
        The UART's pins (idle high), 8N1 at clock / ``link.divisor`` baud.
    """

    def __init__(self, params, link=LinkParams()):
        if params.out_proj:
            raise ValueError("the board link carries the engine without an output "
                             "projection (no weight-load command yet)")
        if link.out_fifo_depth < params.block * params.slices:
            raise ValueError(f"link out_fifo_depth {link.out_fifo_depth}: at least a block's "
                             f"output rows, {params.block * params.slices} beats")
        self.params, self.link = params, link
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        p, lk = self.params, self.link
        kv_bits, q_bits, out_bits = link_beat_bits(p)
        m.submodules.engine = eng = AxisEngine(p, csr="simple")
        m.submodules.uart_rx = urx = UARTRx(lk.divisor)
        m.submodules.uart_tx = utx = UARTTx(lk.divisor)
        m.submodules.receiver = rcv = LinkReceiver(lk.max_payload, lk.timeout_cycles)
        m.submodules.executor = ex = LinkExecutor(kv_bits, q_bits, out_bits, lk.max_payload,
                                                  lk.out_fifo_depth)
        m.submodules.transmitter = tx = LinkTransmitter(lk.max_payload + STATUS_SUFFIX_BYTES)
        m.submodules.out_fifo = fifo = StreamFIFO(beat_layout(out_bits), lk.out_fifo_depth)
        assert beat_bytes(out_bits) <= lk.max_payload

        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, urx.o, rcv.i)
        wiring.connect(m, rcv.frame, ex.frame)
        wiring.connect(m, ex.reply, tx.reply)
        wiring.connect(m, tx.o, utx.i)
        wiring.connect(m, fifo.o, ex.out)
        m.d.comb += [ex.buf_data.eq(rcv.buf_data), rcv.buf_addr.eq(ex.buf_addr),
                     tx.w_addr.eq(ex.r_addr), tx.w_data.eq(ex.r_data), tx.w_en.eq(ex.r_en)]
        m.d.comb += [
            eng.s_axis_kv_tdata.eq(ex.kv.payload.data), eng.s_axis_kv_tuser.eq(ex.kv.payload.user),
            eng.s_axis_kv_tlast.eq(ex.kv.payload.last), eng.s_axis_kv_tvalid.eq(ex.kv.valid),
            ex.kv.ready.eq(eng.s_axis_kv_tready),
            eng.s_axis_q_tdata.eq(ex.q.payload.data), eng.s_axis_q_tlast.eq(ex.q.payload.last),
            eng.s_axis_q_tvalid.eq(ex.q.valid), ex.q.ready.eq(eng.s_axis_q_tready),
            fifo.i.payload.data.eq(eng.m_axis_o_tdata), fifo.i.payload.user.eq(eng.m_axis_o_tuser),
            fifo.i.payload.last.eq(eng.m_axis_o_tlast), fifo.i.valid.eq(eng.m_axis_o_tvalid),
            eng.m_axis_o_tready.eq(fifo.i.ready),
            eng.csr_addr.eq(ex.csr_addr), eng.csr_wdata.eq(ex.csr_wdata),
            eng.csr_we.eq(ex.csr_we), ex.csr_rdata.eq(eng.csr_rdata),
        ]
        return m
