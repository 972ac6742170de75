"""A board's top without its clock and pads: the engine behind a UART host link."""

import dataclasses

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from attnhw.golden.link import beat_bytes

from .axis_engine import AxisEngine
from .clock_crossing import RegisterCrossing, StreamCrossing
from .link_executor import STATUS_SUFFIX_BYTES, LinkExecutor, beat_layout
from .link_receiver import LinkReceiver
from .link_transmitter import LinkTransmitter
from .uart import UARTRx, UARTTx, check_divisor

__all__ = ["BoardLink", "LinkParams", "link_beat_bits"]


@dataclasses.dataclass(frozen=True)
class LinkParams:
    """The host link's sizes.

    divisor : clocks per UART bit (clock / baud rate), at least 4.
    max_payload : bytes a frame's payload holds at most (the receive buffer).
    out_fifo_depth : output beats the board holds for ``READ_OUT`` (a power of two);
        the host keeps fewer than this outstanding, so the engine never waits on the
        link.
    timeout_bytes : a frame that stops for this many byte times is refused (cut short).
    """
    divisor: int = 16                 # the boards' 48 MHz link clock / 3 Mbaud
    max_payload: int = 1024
    out_fifo_depth: int = 256
    timeout_bytes: int = 64

    def __post_init__(self):
        check_divisor(self.divisor)
        for name in ("max_payload", "out_fifo_depth", "timeout_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"link {name} {value!r}: a positive int")
        if self.out_fifo_depth & (self.out_fifo_depth - 1):
            raise ValueError(f"link out_fifo_depth {self.out_fifo_depth}: a power of two "
                             "(an asynchronous FIFO)")

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

    Two clocks: the link runs in ``sync`` (its UART divides that clock), the engine in
    ``engine``; streams cross through asynchronous FIFOs and register accesses through
    :class:`RegisterCrossing`, so the engine's clock is free of the baud rate. With
    ``own_engine_clock`` the ``engine`` domain is defined here from the ports
    ``engine_clk`` and ``engine_rst``; otherwise the design around it defines it (the
    board's PLL).

    Members
    -------
    rx : ``In(1)``, tx : ``Out(1)``
        The UART's pins (idle high), 8N1 at the ``sync`` clock / ``link.divisor`` baud.
    engine_clk, engine_rst : ``In(1)``
        With ``own_engine_clock``: the engine's clock and its synchronous reset.
    """

    def __init__(self, params, link=LinkParams(), *, own_engine_clock=True):
        if params.out_proj:
            raise ValueError("the board link carries the engine without an output "
                             "projection (no weight-load command yet)")
        if link.out_fifo_depth < params.block * params.slices:
            raise ValueError(f"link out_fifo_depth {link.out_fifo_depth}: at least a block's "
                             f"output rows, {params.block * params.slices} beats")
        self.params, self.link, self.own_engine_clock = params, link, own_engine_clock
        ports = {"rx": In(1, init=1), "tx": Out(1, init=1)}
        if own_engine_clock:
            ports.update(engine_clk=In(1), engine_rst=In(1))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p, lk = self.params, self.link
        kv_bits, q_bits, out_bits = link_beat_bits(p)
        if self.own_engine_clock:
            m.domains.engine = ClockDomain("engine")
            m.d.comb += [ClockSignal("engine").eq(self.engine_clk),
                         ResetSignal("engine").eq(self.engine_rst)]
        m.submodules.engine = eng = DomainRenamer("engine")(AxisEngine(p, csr="simple"))
        m.submodules.uart_rx = urx = UARTRx(lk.divisor)
        m.submodules.uart_tx = utx = UARTTx(lk.divisor)
        m.submodules.receiver = rcv = LinkReceiver(lk.max_payload, lk.timeout_cycles)
        m.submodules.executor = ex = LinkExecutor(kv_bits, q_bits, out_bits, lk.max_payload,
                                                  lk.out_fifo_depth)
        m.submodules.transmitter = tx = LinkTransmitter(lk.max_payload + STATUS_SUFFIX_BYTES)
        m.submodules.out_fifo = fifo = StreamCrossing(beat_layout(out_bits), lk.out_fifo_depth,
                                                      "engine", "sync")
        m.submodules.kv_cross = kv = StreamCrossing(beat_layout(kv_bits), 4, "sync", "engine")
        m.submodules.q_cross = q = StreamCrossing(beat_layout(q_bits), 4, "sync", "engine")
        m.submodules.reg_cross = regs = RegisterCrossing("engine")
        wiring.connect(m, ex.kv, kv.i)
        wiring.connect(m, ex.q, q.i)
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
            eng.s_axis_kv_tdata.eq(kv.o.payload.data), eng.s_axis_kv_tuser.eq(kv.o.payload.user),
            eng.s_axis_kv_tlast.eq(kv.o.payload.last), eng.s_axis_kv_tvalid.eq(kv.o.valid),
            kv.o.ready.eq(eng.s_axis_kv_tready),
            eng.s_axis_q_tdata.eq(q.o.payload.data), eng.s_axis_q_tlast.eq(q.o.payload.last),
            eng.s_axis_q_tvalid.eq(q.o.valid), q.o.ready.eq(eng.s_axis_q_tready),
            fifo.i.payload.data.eq(eng.m_axis_o_tdata), fifo.i.payload.user.eq(eng.m_axis_o_tuser),
            fifo.i.payload.last.eq(eng.m_axis_o_tlast), fifo.i.valid.eq(eng.m_axis_o_tvalid),
            eng.m_axis_o_tready.eq(fifo.i.ready),
            regs.addr.eq(ex.reg_addr), regs.wdata.eq(ex.reg_wdata), regs.we.eq(ex.reg_we),
            regs.start.eq(ex.reg_start), ex.reg_done.eq(regs.done), ex.reg_rdata.eq(regs.rdata),
            eng.csr_addr.eq(regs.csr_addr), eng.csr_wdata.eq(regs.csr_wdata),
            eng.csr_we.eq(regs.csr_we), regs.csr_rdata.eq(eng.csr_rdata),
        ]
        return m
