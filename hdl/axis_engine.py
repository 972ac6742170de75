"""AXI4-Stream top level of the engine, with a register port for its settings: a plain
CSR port or AXI4-Lite (``csr="axil"``)."""

from amaranth.hdl import C, Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from attnhw.golden.errors import InputError
from attnhw.golden.out_proj import LOAD_WORD_BITS

from .engine import AttentionEngine
from .out_proj import OutProjection
from .registers import ADDR_BITS, REGISTERS, STATUS_BITS, read_only_value

__all__ = ["AxisEngine", "CSR_MAP", "CSR", "STATUS_BITS", "CSR_PORTS"]

# Word address -> (name, access, description), from attnhw.hdl.registers.
CSR_MAP = {r.addr: (r.name, r.access, r.meaning) for r in REGISTERS}
#: Register name -> word address.
CSR = {name: addr for addr, (name, _, _) in CSR_MAP.items()}
#: The register port's kinds.
CSR_PORTS = ("simple", "axil")


class AxisEngine(wiring.Component):
    """:class:`AttentionEngine` with AXI4-Stream ports and a CSR port (Verilog names).

    Streams (``lanes`` elements of ``w`` bits per beat, element ``n`` at bits
    ``[n*w +: w]``, two's complement):

    - ``s_axis_kv``: ``tdata = {v slice, k slice}`` (``2*lanes*w`` bits, k in the low
      half), ``tuser`` = the key's padding bit (1: masked; taken from the key's final
      beat), ``tlast`` on the final beat of the head's final key.
    - ``s_axis_q``: ``tdata`` = q slice, ``tlast`` on the final beat of the head's
      final query. The CSRs are sampled at each query's final beat.
    - ``m_axis_o``: ``tdata`` = output slice (``lanes`` elements of ``out_width`` bits),
      ``tuser`` = 1 on each row's final beat,
      ``tlast`` on the final beat of the head's final row.

    With an output projection (``params.out_features``, :class:`OutProjection`):

    - ``s_axis_w``: ``tdata`` = a 32-bit load word
      (:func:`attnhw.golden.out_proj.load_words`), ``tlast`` on the final word.
    - ``m_axis_o`` carries the projection's outputs instead: ``tdata`` = ``proj_lanes``
      outputs of ``data_width`` bits, ``tuser`` on each row's final beat, ``tlast``
      on the final beat of a tile (the final head's pass of it).

    Register port (one 32-bit register per word, :mod:`attnhw.hdl.registers`):

    - ``csr="simple"``: ``csr_we`` writes ``csr_wdata`` to word ``csr_addr`` at the
      clock edge; ``csr_rdata`` shows word ``csr_addr`` one cycle later.
    - ``csr="axil"``: an AXI4-Lite slave, ``s_axi_*`` (Vivado infers the interface
      from the names), byte addresses (word address x 4), ``WSTRB`` byte enables. A
      write is taken when ``AWVALID`` and ``WVALID`` are both high (``AWREADY`` and
      ``WREADY`` rise together, that cycle), then ``BVALID`` waits for ``BREADY``; a
      read is taken when ``ARVALID`` is high and no read response is pending, and
      ``RVALID`` waits for ``RREADY``. Responses are OKAY; an address outside the
      map reads 0 and ignores writes.
    """

    def __init__(self, params, csr="simple"):
        if csr not in CSR_PORTS:
            raise InputError(f"unknown --csr {csr!r}; choose one of {', '.join(CSR_PORTS)}")
        self.params, self.csr = params, csr
        p = params
        lane_bits = p.lanes * p.data_width
        out_bits = p.proj_lanes * p.data_width if p.out_proj else p.lanes * p.out_width
        ports = {
            "s_axis_kv_tdata": In(2 * lane_bits), "s_axis_kv_tuser": In(1),
            "s_axis_kv_tlast": In(1), "s_axis_kv_tvalid": In(1), "s_axis_kv_tready": Out(1),
            "s_axis_q_tdata": In(lane_bits), "s_axis_q_tlast": In(1),
            "s_axis_q_tvalid": In(1), "s_axis_q_tready": Out(1),
            "m_axis_o_tdata": Out(out_bits), "m_axis_o_tuser": Out(1),
            "m_axis_o_tlast": Out(1), "m_axis_o_tvalid": Out(1), "m_axis_o_tready": In(1),
        }
        if p.out_proj:
            ports.update({"s_axis_w_tdata": In(LOAD_WORD_BITS), "s_axis_w_tlast": In(1),
                          "s_axis_w_tvalid": In(1), "s_axis_w_tready": Out(1)})
        if csr == "simple":
            ports.update({"csr_addr": In(ADDR_BITS), "csr_wdata": In(32), "csr_we": In(1),
                          "csr_rdata": Out(32)})
        else:
            ports.update({
                "s_axi_awaddr": In(ADDR_BITS + 2), "s_axi_awvalid": In(1), "s_axi_awready": Out(1),
                "s_axi_wdata": In(32), "s_axi_wstrb": In(4), "s_axi_wvalid": In(1),
                "s_axi_wready": Out(1),
                "s_axi_bresp": Out(2), "s_axi_bvalid": Out(1), "s_axi_bready": In(1),
                "s_axi_araddr": In(ADDR_BITS + 2), "s_axi_arvalid": In(1), "s_axi_arready": Out(1),
                "s_axi_rdata": Out(32), "s_axi_rresp": Out(2), "s_axi_rvalid": Out(1),
                "s_axi_rready": In(1)})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.engine = eng = AttentionEngine(p)
        lane_bits = p.lanes * p.data_width
        clear = Signal()                       # a write to STATUS clears the error bits

        out = eng.o
        flags = {name: getattr(eng, name, C(0)) for name in STATUS_BITS}
        m.d.comb += eng.clear_errors.eq(clear)
        if p.out_proj:
            m.submodules.projection = proj = OutProjection(p, p.out_proj)
            wiring.connect(m, eng.o, proj.c)
            out = proj.y
            flags.update(err_tile_rows=proj.err_tile_rows, err_load_last=proj.err_load_last)
            m.d.comb += [proj.load.valid.eq(self.s_axis_w_tvalid),
                         self.s_axis_w_tready.eq(proj.load.ready),
                         proj.load.payload.data.eq(self.s_axis_w_tdata),
                         proj.load.payload.last.eq(self.s_axis_w_tlast),
                         proj.clear_errors.eq(clear)]
        m.d.comb += [
            eng.kv.valid.eq(self.s_axis_kv_tvalid), self.s_axis_kv_tready.eq(eng.kv.ready),
            eng.kv.payload.k.eq(self.s_axis_kv_tdata[:lane_bits]),
            eng.kv.payload.v.eq(self.s_axis_kv_tdata[lane_bits:]),
            eng.kv.payload.masked.eq(self.s_axis_kv_tuser), eng.kv.payload.last.eq(self.s_axis_kv_tlast),
            eng.q.valid.eq(self.s_axis_q_tvalid), self.s_axis_q_tready.eq(eng.q.ready),
            eng.q.payload.q.eq(self.s_axis_q_tdata), eng.q.payload.last.eq(self.s_axis_q_tlast),
            self.m_axis_o_tvalid.eq(out.valid), out.ready.eq(self.m_axis_o_tready),
            self.m_axis_o_tdata.eq(out.payload.o if out is eng.o else out.payload.y),
            self.m_axis_o_tuser.eq(out.payload.row_last), self.m_axis_o_tlast.eq(out.payload.last),
        ]

        s = eng.settings
        # The register bus both ports drive: a write (word address, data, byte enables)
        # and the value at the read address.
        we, waddr, wdata, wstrb = Signal(), Signal(ADDR_BITS), Signal(32), Signal(4)
        raddr, rvalue = Signal(ADDR_BITS), Signal(32)
        regs = {CSR["SCALE"]: s.scale, CSR["MODE"]: s.causal, CSR["OFFSET"]: s.offset,
                CSR["KEY_LIMIT"]: s.key_limit, CSR["GROUP_ROWS"]: s.group_rows}
        status = Cat(flags[name] for name in STATUS_BITS)
        read = {**regs, CSR["OFFSET"]: s.offset.as_signed(), CSR["STATUS"]: status,
                **{r.addr: read_only_value(p, r.name) for r in REGISTERS if r.access == "r"}}
        # Registers narrower than 32 bits keep the low bits of a write (OFFSET: its
        # sign-extended low bits, so any in-range signed value round-trips); bytes
        # whose enable is low keep their value.
        for addr, reg in regs.items():
            now = Signal(32, name=f"{CSR_MAP[addr][0].lower()}_now")
            m.d.comb += now.eq(read[addr])
            merged = Cat(Mux(wstrb[i], wdata[8 * i:8 * i + 8], now[8 * i:8 * i + 8])
                         for i in range(4))
            with m.If(we & (waddr == addr)):
                m.d.sync += reg.eq(merged[:len(reg)])
        m.d.comb += clear.eq(we & (waddr == CSR["STATUS"]))
        with m.Switch(raddr):
            for addr, value in read.items():
                with m.Case(addr):
                    m.d.comb += rvalue.eq(value)
            with m.Default():                  # outside the map: 0
                m.d.comb += rvalue.eq(0)

        if self.csr == "simple":
            m.d.comb += [we.eq(self.csr_we), waddr.eq(self.csr_addr), wdata.eq(self.csr_wdata),
                         wstrb.eq(0b1111), raddr.eq(self.csr_addr)]
            m.d.sync += self.csr_rdata.eq(rvalue)
        else:
            self._axi_lite(m, we, waddr, wdata, wstrb, raddr, rvalue)
        return m

    def _axi_lite(self, m, we, waddr, wdata, wstrb, raddr, rvalue):
        """AXI4-Lite slave on the register bus: one write and one read in flight."""
        take_write = self.s_axi_awvalid & self.s_axi_wvalid & ~self.s_axi_bvalid
        m.d.comb += [
            self.s_axi_awready.eq(take_write), self.s_axi_wready.eq(take_write),
            we.eq(take_write), waddr.eq(self.s_axi_awaddr[2:]), wdata.eq(self.s_axi_wdata),
            wstrb.eq(self.s_axi_wstrb), self.s_axi_bresp.eq(0), self.s_axi_rresp.eq(0),
        ]
        with m.If(take_write):
            m.d.sync += self.s_axi_bvalid.eq(1)
        with m.Elif(self.s_axi_bready):
            m.d.sync += self.s_axi_bvalid.eq(0)
        take_read = self.s_axi_arvalid & ~self.s_axi_rvalid
        m.d.comb += [self.s_axi_arready.eq(~self.s_axi_rvalid), raddr.eq(self.s_axi_araddr[2:])]
        with m.If(take_read):
            m.d.sync += [self.s_axi_rvalid.eq(1), self.s_axi_rdata.eq(rvalue)]
        with m.Elif(self.s_axi_rready):
            m.d.sync += self.s_axi_rvalid.eq(0)
