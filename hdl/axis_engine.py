"""AXI4-Stream top level of the engine, with a plain CSR port for its settings."""

from amaranth.hdl import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .engine import AttentionEngine

__all__ = ["AxisEngine", "CSR_MAP", "CSR", "STATUS_BITS"]

# Word address -> (name, access, description). docs/engine.md's register table and the
# testbench use this map.
CSR_MAP = {
    0: ("SCALE", "rw", "softmax scale, u(scale_width-scale_frac).scale_frac, base 2 "
                       "(attnhw.golden.scale.scale_to_port); reset 0"),
    1: ("MODE", "rw", "bit 0: causal"),
    2: ("OFFSET", "rw", "causal offset, signed: query i sees keys j <= i + OFFSET"),
    3: ("KEY_LIMIT", "rw", "keys j >= KEY_LIMIT are masked; 0: no limit"),
    4: ("STATUS", "r/clear", "sticky error bits (below); any write clears them"),
    5: ("SHAPE", "r", "head_dim [15:0], data_width [31:16]"),
    6: ("MAX_SEQ_LEN", "r", "max_seq_len: keys per head"),
    7: ("PARALLEL", "r", "lanes [15:0], block [31:16]"),
}
#: Register name -> word address.
CSR = {name: addr for addr, (name, _, _) in CSR_MAP.items()}
STATUS_BITS = ("err_last_misplaced", "err_too_many_keys", "err_q_last_misplaced")


class AxisEngine(wiring.Component):
    """:class:`AttentionEngine` with AXI4-Stream ports and a CSR port (Verilog names).

    Streams (``lanes`` elements of ``w`` bits per beat, element ``n`` at bits
    ``[n*w +: w]``, two's complement):

    - ``s_axis_kv``: ``tdata = {v slice, k slice}`` (``2*lanes*w`` bits, k in the low
      half), ``tuser`` = the key's padding bit (1: masked; taken from the key's final
      beat), ``tlast`` on the final beat of the head's final key.
    - ``s_axis_q``: ``tdata`` = q slice, ``tlast`` on the final beat of the head's
      final query. The CSRs are sampled at each query's final beat.
    - ``m_axis_o``: ``tdata`` = output slice, ``tuser`` = 1 on each row's final beat,
      ``tlast`` on the final beat of the head's final row.

    CSR port (one 32-bit register per word address, :data:`CSR_MAP`): ``csr_we``
    writes ``csr_wdata`` to ``csr_addr`` at the clock edge; ``csr_rdata`` shows the
    register at ``csr_addr`` one cycle later.
    """

    def __init__(self, params):
        self.params = params
        p = params
        lane_bits = p.lanes * p.data_width
        super().__init__({
            "s_axis_kv_tdata": In(2 * lane_bits), "s_axis_kv_tuser": In(1),
            "s_axis_kv_tlast": In(1), "s_axis_kv_tvalid": In(1), "s_axis_kv_tready": Out(1),
            "s_axis_q_tdata": In(lane_bits), "s_axis_q_tlast": In(1),
            "s_axis_q_tvalid": In(1), "s_axis_q_tready": Out(1),
            "m_axis_o_tdata": Out(lane_bits), "m_axis_o_tuser": Out(1),
            "m_axis_o_tlast": Out(1), "m_axis_o_tvalid": Out(1), "m_axis_o_tready": In(1),
            "csr_addr": In(3), "csr_wdata": In(32), "csr_we": In(1), "csr_rdata": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.engine = eng = AttentionEngine(p)
        lane_bits = p.lanes * p.data_width

        m.d.comb += [
            eng.kv.valid.eq(self.s_axis_kv_tvalid), self.s_axis_kv_tready.eq(eng.kv.ready),
            eng.kv.payload.k.eq(self.s_axis_kv_tdata[:lane_bits]),
            eng.kv.payload.v.eq(self.s_axis_kv_tdata[lane_bits:]),
            eng.kv.payload.masked.eq(self.s_axis_kv_tuser), eng.kv.payload.last.eq(self.s_axis_kv_tlast),
            eng.q.valid.eq(self.s_axis_q_tvalid), self.s_axis_q_tready.eq(eng.q.ready),
            eng.q.payload.q.eq(self.s_axis_q_tdata), eng.q.payload.last.eq(self.s_axis_q_tlast),
            self.m_axis_o_tvalid.eq(eng.o.valid), eng.o.ready.eq(self.m_axis_o_tready),
            self.m_axis_o_tdata.eq(eng.o.payload.o), self.m_axis_o_tuser.eq(eng.o.payload.row_last),
            self.m_axis_o_tlast.eq(eng.o.payload.last),
        ]

        s = eng.settings
        regs = {CSR["SCALE"]: s.scale, CSR["MODE"]: s.causal, CSR["OFFSET"]: s.offset,
                CSR["KEY_LIMIT"]: s.key_limit}
        status = Cat(getattr(eng, name) for name in STATUS_BITS)
        # Registers narrower than 32 bits keep the low bits of a write (OFFSET: its
        # sign-extended low bits, so any in-range signed value round-trips).
        for addr, reg in regs.items():
            with m.If(self.csr_we & (self.csr_addr == addr)):
                m.d.sync += reg.eq(self.csr_wdata[:len(reg)])
        m.d.comb += eng.clear_errors.eq(self.csr_we & (self.csr_addr == CSR["STATUS"]))
        read = {**regs, CSR["OFFSET"]: s.offset.as_signed(), CSR["STATUS"]: status,
                CSR["SHAPE"]: p.head_dim | p.data_width << 16, CSR["MAX_SEQ_LEN"]: p.max_seq_len,
                CSR["PARALLEL"]: p.lanes | p.block << 16}
        with m.Switch(self.csr_addr):
            for addr, value in read.items():
                with m.Case(addr):
                    m.d.sync += self.csr_rdata.eq(value)
            with m.Default():
                m.d.sync += self.csr_rdata.eq(0)
        return m
