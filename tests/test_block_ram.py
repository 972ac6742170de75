"""attnhw.hdl.block_ram.BlockRAM: the ECP5 array of DP16KD instances (simulated with
sim/models/DP16KD.v on Icarus) gives, cycle for cycle, the words that the generic
Memory version gives under Amaranth's simulator, and those are the words written."""

import subprocess

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from attnhw.synth import platform
from attnhw.hdl.block_ram import BlockRAM, ecp5_tiling
from attnhw.sim.paths import MODELS
from tests.conftest import need_icarus

CYCLES = 600


def _stimulus(width, depth, seed, gap=4):
    """Per cycle (w_en, w_addr, w_data, r_addr): random writes, and reads of words
    written at least ``gap`` cycles earlier (or never: those are not compared)."""
    rng = np.random.default_rng(seed)
    written_at = {}
    rows = []
    for t in range(CYCLES):
        w_en = int(rng.random() < 0.5)
        w_addr = int(rng.integers(depth)) if rng.random() < 0.7 else int(rng.integers(8))
        w_data = int(rng.integers(1 << min(width, 62))) | (int(rng.integers(2)) << (width - 1))
        ready = [a for a, when in written_at.items() if t - when >= gap]
        r_addr = int(rng.choice(ready)) if ready and rng.random() < 0.9 else int(rng.integers(depth))
        if w_en:
            written_at[w_addr] = t
        rows.append((w_en, w_addr, w_data, r_addr))
    return rows


def _expected(rows):
    """The word each read returns (None where the address was not yet written)."""
    mem, out = {}, []
    for w_en, w_addr, w_data, r_addr in rows:
        out.append(mem.get(r_addr))
        if w_en:
            mem[w_addr] = w_data
    return out


def _amaranth(width, depth, rows, write_tree=False, read_tree=False):
    dut = BlockRAM(width, depth, write_tree=write_tree, read_tree=read_tree)
    seen = []

    async def tb(ctx):
        for w_en, w_addr, w_data, r_addr in rows + [(0, 0, 0, 0)] * dut.latency:
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_addr, w_addr)
            ctx.set(dut.w_data, w_data)
            ctx.set(dut.r_addr, r_addr)
            await ctx.tick()
            seen.append(ctx.get(dut.r_data))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return seen


def _icarus(width, depth, rows, tmp_path, write_tree=False, read_tree=False):
    dut = BlockRAM(width, depth, write_tree=write_tree, read_tree=read_tree)
    lat = dut.latency
    (tmp_path / "bram.v").write_text(verilog.convert(
        dut, name="bram", platform=platform("ecp5"), emit_src=False))
    aw = len(dut.w_addr)
    (tmp_path / "stim.hex").write_text("".join(
        f"{w_en:x} {w_addr:x} {w_data:x} {r_addr:x}\n" for w_en, w_addr, w_data, r_addr in rows))
    tb = f"""
`timescale 1ns/1ps
module tb;
  reg clk = 0, rst = 1;
  reg w_en = 0; reg [{aw - 1}:0] w_addr = 0, r_addr = 0; reg [{width - 1}:0] w_data = 0;
  wire [{width - 1}:0] r_data;
  bram dut(.clk(clk), .rst(rst), .w_en(w_en), .w_addr(w_addr), .w_data(w_data),
           .r_addr(r_addr), .r_data(r_data));
  integer f, o, t, n, e, wa, ra; reg [{width - 1}:0] wd;
  always #5 clk = ~clk;
  initial begin
    f = $fopen("stim.hex", "r"); o = $fopen("out.txt", "w");
    @(negedge clk); rst = 0;
    for (t = 0; t < {len(rows) + lat}; t = t + 1) begin
      if (t < {len(rows)}) begin
        n = $fscanf(f, "%h %h %h %h\\n", e, wa, wd, ra);
        w_en = e; w_addr = wa; w_data = wd; r_addr = ra;
      end else w_en = 0;
      @(posedge clk); #1 $fdisplay(o, "%h", r_data);
      @(negedge clk);
    end
    $fclose(o); $finish;
  end
endmodule
"""
    (tmp_path / "tb.v").write_text(tb)
    subprocess.run(["iverilog", "-g2012", "-o", "tb.vvp", "tb.v", "bram.v",
                    str(MODELS / "DP16KD.v")],
                   cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True, capture_output=True)
    return [int(line, 16) if "x" not in line else None
            for line in (tmp_path / "out.txt").read_text().split()]


@pytest.mark.parametrize("width,depth,write_tree,read_tree", [
    (37, 8192, False, False), (20, 512, False, False), (12, 5000, False, False),
    (9, 2048, False, False), (37, 8192, True, False), (12, 5000, True, False),
    (37, 8192, True, True), (12, 5000, False, True)])
def test_ecp5_array_matches_generic_memory(width, depth, write_tree, read_tree, tmp_path):
    """With and without the two-level write and read trees; reads as early as
    ``read_after_write`` cycles after a word's write (with the write tree alone, both
    arrays fail at one cycle less: its extra cycle, checked by hand on 2026-12-04)."""
    need_icarus()
    bram_width, rows, columns = ecp5_tiling(width, depth)
    assert rows * (1024 if bram_width == 18 else 2048) >= depth and columns * bram_width >= width
    probe = BlockRAM(width, depth, write_tree=write_tree, read_tree=read_tree)
    probe._MustUse__silence = True            # asked for its timing, not built
    gap = max(1, probe.read_after_write)     # the model reads words of earlier cycles
    stim = _stimulus(width, depth, seed=width * depth, gap=gap)
    expected = _expected(stim)
    generic = _amaranth(width, depth, stim, write_tree, read_tree)
    ecp5 = _icarus(width, depth, stim, tmp_path, write_tree, read_tree)
    lat = probe.latency
    compared = 0
    for t, want in enumerate(expected):
        if want is None:
            continue
        assert generic[t + lat - 1] == want, f"generic, read at cycle {t}"
        assert ecp5[t + lat - 1] == want, f"ECP5 DP16KD array, read at cycle {t}"
        compared += 1
    assert compared > CYCLES // 2
