"""Clock-domain crossings between the host link's clock and the engine's."""

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.fifo import AsyncFIFO
from amaranth.lib.wiring import In, Out

from .registers import ADDR_BITS

__all__ = ["StreamCrossing", "RegisterCrossing"]


class StreamCrossing(wiring.Component):
    """A stream from domain ``w_domain`` to ``r_domain`` through an ``AsyncFIFO`` of
    ``depth`` beats (a power of two).

    Members
    -------
    i : ``In(stream.Signature(shape))``, in ``w_domain``
    o : ``Out(stream.Signature(shape))``, in ``r_domain``
    """

    def __init__(self, shape, depth, w_domain, r_domain):
        self.shape, self.depth = shape, depth
        self.w_domain, self.r_domain = w_domain, r_domain
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = AsyncFIFO(width=Shape.cast(self.shape).width,
                                             depth=self.depth, w_domain=self.w_domain,
                                             r_domain=self.r_domain)
        m.d.comb += [fifo.w_data.eq(self.i.payload), fifo.w_en.eq(self.i.valid),
                     self.i.ready.eq(fifo.w_rdy),
                     self.o.payload.eq(fifo.r_data), self.o.valid.eq(fifo.r_rdy),
                     fifo.r_en.eq(self.o.ready)]
        return m


class RegisterCrossing(wiring.Component):
    """One register access at a time from the link's domain (``sync``) to the
    engine's simple register port (:class:`~attnhw.hdl.axis_engine.AxisEngine`,
    ``csr="simple"``) in ``engine_domain``, by a request and an acknowledge toggle
    through two-flip-flop synchronisers. The address, data and result are held steady
    while the other side samples them.

    Members
    -------
    start : ``In(1)``
        A pulse: take ``addr``, ``wdata``, ``we`` (link side).
    done : ``Out(1)``
        A pulse (a flip-flop) when the access has happened; ``rdata`` then holds the
        register's value (read before the write, for a write).
    csr_addr, csr_wdata, csr_we : ``Out``, csr_rdata : ``In(32)``
        The engine's port, in ``engine_domain``.
    """

    def __init__(self, engine_domain="engine"):
        self.engine_domain = engine_domain
        super().__init__({
            "addr": In(ADDR_BITS), "wdata": In(32), "we": In(1), "start": In(1),
            "done": Out(1), "rdata": Out(32),
            "csr_addr": Out(ADDR_BITS), "csr_wdata": Out(32), "csr_we": Out(1),
            "csr_rdata": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        eng = m.d[self.engine_domain]
        # Link side: the request held, its toggle, and the acknowledge seen back.
        addr, wdata, we = Signal(ADDR_BITS), Signal(32), Signal()
        req, ack_seen, busy = Signal(), Signal(), Signal()
        ack_sync = Signal()
        result = Signal(32)                  # engine side, steady once acknowledged
        with m.If(self.start & ~busy):
            m.d.sync += [addr.eq(self.addr), wdata.eq(self.wdata), we.eq(self.we),
                         req.eq(~req), busy.eq(1)]
        finished = busy & (ack_sync != ack_seen)
        m.d.sync += self.done.eq(finished)            # with rdata, a cycle later
        with m.If(finished):
            m.d.sync += [ack_seen.eq(ack_sync), busy.eq(0), self.rdata.eq(result)]

        # Engine side: on a new request, present it for one cycle, take the value the
        # cycle after, then toggle the acknowledge.
        req_sync, req_seen, step = Signal(), Signal(), Signal(2)
        ack = Signal()
        m.submodules.req_sync = FFSynchronizer(req, req_sync, o_domain=self.engine_domain)
        m.submodules.ack_sync = FFSynchronizer(ack, ack_sync, o_domain="sync")
        eng += self.csr_we.eq(0)
        with m.If((step == 0) & (req_sync != req_seen)):
            eng += [req_seen.eq(req_sync), self.csr_addr.eq(addr), self.csr_wdata.eq(wdata),
                    self.csr_we.eq(we), step.eq(1)]
        with m.If(step == 1):                 # the port registers the value this cycle
            eng += step.eq(2)
        with m.If(step == 2):
            eng += [result.eq(self.csr_rdata), ack.eq(~ack), step.eq(0)]
        return m
