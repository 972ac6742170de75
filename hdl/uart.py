"""8N1 UART: a receiver and a transmitter with byte streams, ``divisor`` clocks per bit."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "check_divisor"]


def check_divisor(divisor):
    """Clocks per bit: the receiver samples mid-bit, so at least 4."""
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"UART divisor {divisor!r}: clocks per bit must be an int >= 4")
    return divisor


class UARTRx(wiring.Component):
    """Receiver: 1 start bit, 8 data bits (least significant first), 1 stop bit.

    ``rx`` passes a two-flip-flop synchroniser (it comes from a pin). A start bit is
    checked at its middle, each data bit sampled at its middle; a byte whose stop bit
    is 0 is dropped (a framing error: the frame's CRC or length then fails).

    Members
    -------
    rx : ``In(1)``, idle high.
    o : ``Out(stream.Signature(8, always_ready=True))``
        One beat per byte; nothing holds it, so the reader takes it in that cycle.
    """

    def __init__(self, divisor):
        self.divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1),
                          "o": Out(stream.Signature(8, always_ready=True))})

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bits = Signal(range(10))             # data bits still to sample, then the stop bit
        shift = Signal(8)
        busy = Signal()
        m.d.sync += self.o.valid.eq(0)
        with m.If(~busy):
            with m.If(~rx):                  # a falling edge: the start bit's middle next
                m.d.sync += [busy.eq(1), timer.eq(self.divisor // 2 - 1), bits.eq(10)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [timer.eq(self.divisor - 1), bits.eq(bits - 1)]
            with m.If(bits == 10):           # mid start bit: a glitch if high again
                with m.If(rx):
                    m.d.sync += busy.eq(0)
            with m.Elif(bits != 1):
                m.d.sync += shift.eq(Cat(shift[1:], rx))
            with m.Else():                   # the stop bit
                m.d.sync += [busy.eq(0), self.o.valid.eq(rx), self.o.payload.eq(shift)]
        return m


class UARTTx(wiring.Component):
    """Transmitter: takes a byte from ``i`` when idle and shifts out start, 8 data bits
    (least significant first) and stop, ``divisor`` clocks each.

    Members
    -------
    i : ``In(stream.Signature(8))``
    tx : ``Out(1)``, idle high.
    """

    def __init__(self, divisor):
        self.divisor = check_divisor(divisor)
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        shift = Signal(10, init=0x3FF)       # bits still to send, the next at bit 0
        left = Signal(range(11))
        m.d.comb += [self.i.ready.eq(left == 0), self.tx.eq(shift[0])]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.i.payload, Const(1, 1))),
                         left.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [timer.eq(self.divisor - 1), left.eq(left - 1),
                             shift.eq(Cat(shift[1:], Const(1, 1)))]
        return m
