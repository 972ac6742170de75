"""cocotb testbench of the engine's AXI4-Lite register port (``attnhw verilog --top
engine --csr axil``), driven by cocotbext-axi's AXI4-Lite master with random pauses
on all five channels. Every expectation comes from :mod:`attnhw.hdl.registers`:

- after reset every register reads its reset value (read-only ones: the parameters,
  ID, VERSION);
- random full-word and single-byte writes to the rw registers read back as a model
  of byte merge, truncation to the field and OFFSET's sign extension predicts;
- writes to read-only registers and outside the map change nothing (those read 0);
- a misplaced ``tlast`` on ``s_axis_kv`` sets STATUS bit 0, a write clears it;
- a read and a write issued at once both complete.

Writes ``ATTNHW_RESULT`` (JSON: ``checks``, ``errors``) and an empty ``.npz`` of rows.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from attnhw.golden.params import AttnParams
from attnhw.hdl.registers import BY_NAME, REGISTERS, field_widths, reset_value

from attnhw.sim.cocotb_util import pauses

RW = [r.name for r in REGISTERS if r.access == "rw"]


def _expected_after_write(name, now, data, strobe, widths):
    """What a rw register reads after writing ``data`` with byte enables ``strobe``
    when it read ``now``: bytes merged, truncated to the field, OFFSET sign-extended."""
    merged = 0
    for i in range(4):
        src = data if strobe >> i & 1 else now
        merged |= src & (0xFF << 8 * i)
    width = widths.get(name, 1)
    value = merged & ((1 << width) - 1)
    if name == "OFFSET" and value >> (width - 1):
        value -= 1 << width
    return value & 0xFFFF_FFFF


@cocotb.test(timeout_time=1, timeout_unit="ms")     # (a run takes about 8 us)
async def registers(dut):
    job = json.loads(open(os.environ["ATTNHW_JOB"]).read())
    p = AttnParams(**job["params"])
    rng = random.Random(job["seed"])
    widths = field_widths(p)
    checks, errors = 0, []

    def check(ok, what):
        nonlocal checks
        checks += 1
        if not ok:
            errors.append(what)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for sig in ("s_axis_kv_tvalid", "s_axis_q_tvalid", "m_axis_o_tready", "s_axis_kv_tdata",
                "s_axis_kv_tlast", "s_axis_kv_tuser", "s_axis_q_tdata", "s_axis_q_tlast"):
        getattr(dut, sig).value = 0
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst)

    for channel in (master.write_if.aw_channel, master.write_if.w_channel,
                    master.write_if.b_channel, master.read_if.ar_channel,
                    master.read_if.r_channel):
        channel.set_pause_generator(pauses(rng, 0.4))
    dut.rst.value = 1
    for _ in range(4):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    model = {}
    for reg in REGISTERS:
        got = await master.read_dword(4 * reg.addr)
        check(got == reset_value(p, reg.name), f"{reg.name} after reset: 0x{got:08x}")
        model[reg.name] = got

    for _ in range(60):
        name = rng.choice(RW)
        addr = 4 * BY_NAME[name].addr
        if rng.random() < 0.5:
            data, strobe = rng.getrandbits(32), 0xF
            await master.write_dword(addr, data)
        else:
            lane = rng.randrange(4)
            byte = rng.getrandbits(8)
            data, strobe = byte << 8 * lane, 1 << lane
            await master.write(addr + lane, bytes([byte]))
        model[name] = _expected_after_write(name, model[name], data, strobe, widths)
        got = await master.read_dword(addr)
        check(got == model[name], f"{name} after writing 0x{data:08x} (strobe {strobe:04b}): "
                                  f"0x{got:08x}, expected 0x{model[name]:08x}")

    for reg in REGISTERS:
        if reg.access == "r":
            await master.write_dword(4 * reg.addr, rng.getrandbits(32))
    for addr in range(4 * (len(REGISTERS)), 64, 4):
        await master.write_dword(addr, 0xFFFF_FFFF)
        got = await master.read_dword(addr)
        check(got == 0, f"unmapped 0x{addr:02x} reads 0x{got:08x}")
    for reg in REGISTERS:
        got = await master.read_dword(4 * reg.addr)
        check(got == model[reg.name], f"{reg.name} after writes elsewhere: 0x{got:08x}")

    # A kv beat with tlast that does not end its key (slices > 1): STATUS bit 0.
    status_addr = 4 * BY_NAME["STATUS"].addr
    if p.slices > 1:
        dut.s_axis_kv_tvalid.value, dut.s_axis_kv_tlast.value = 1, 1
        for _ in range(100):        # an idle engine takes a kv beat at once
            await RisingEdge(dut.clk)
            if dut.s_axis_kv_tready.value:
                break
        else:
            raise AssertionError("the kv port did not take a beat in 100 cycles")
        dut.s_axis_kv_tvalid.value, dut.s_axis_kv_tlast.value = 0, 0
        for _ in range(4):
            await RisingEdge(dut.clk)
        got = await master.read_dword(status_addr)
        check(got == 1, f"STATUS after a misplaced kv tlast: 0x{got:08x}")
        await master.write_dword(status_addr, 0)
        got = await master.read_dword(status_addr)
        check(got == 0, f"STATUS after the clearing write: 0x{got:08x}")

    # A read and a write in flight together.
    scale = 4 * BY_NAME["SCALE"].addr
    value = rng.getrandbits(widths["SCALE"])
    write = cocotb.start_soon(master.write_dword(scale, value))
    shape = await master.read_dword(4 * BY_NAME["SHAPE"].addr)
    await write
    check(shape == reset_value(p, "SHAPE"), f"SHAPE read beside a write: 0x{shape:08x}")
    got = await master.read_dword(scale)
    check(got == value, f"SCALE after the concurrent write: 0x{got:08x}")

    result = os.environ["ATTNHW_RESULT"]
    np.savez(result + ".npz", o=np.zeros(0), expect=np.zeros(0))
    with open(result, "w") as f:
        json.dump({"checks": checks, "errors": errors}, f)
    assert not errors, errors[:5]
