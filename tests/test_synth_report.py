"""Synthesis reports: the worst-path summary (on a hand-written nextpnr report) and the
units that `attnhw synth --unit` builds alone."""

import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Cat

from attnhw.synth import critical_path
from attnhw.golden.params import AttnParams
from attnhw.hdl.synth_harness import ENGINE_UNITS, READY_TIED, UNITS, SynthHarness, unit_component


def _step(kind, delay, src, dst):
    return {"type": kind, "delay": delay, "from": {"cell": src}, "to": {"cell": dst}}


def test_critical_path_summary():
    ff_a, mul, lut, ff_b = ("unit.acc.delta1_TRELLIS_FF_Q_5", "unit.prod6_TRELLIS_FF_Q_DI_MULT18X18D_P9",
                            "unit.acc.updated[0]_PFUMX_Z_1_BLUT_LUT4_Z", "unit.acc.ring3_TRELLIS_FF_Q_599")
    clocked = {"from": "posedge clk", "to": "posedge clk", "path": [
        _step("clk-to-q", 0.5, ff_a, ff_a), _step("routing", 2.0, ff_a, mul),
        _step("logic", 3.0, mul, mul), _step("routing", 1.25, mul, lut),
        _step("logic", 0.25, lut, lut), _step("routing", 1.0, lut, ff_b),
        _step("setup", 0.5, ff_b, ff_b)]}
    io = {"from": "<async>", "to": "posedge clk", "path": [_step("routing", 9.0, "rst", ff_b)]}
    cp = critical_path({"critical_paths": [io, clocked]})
    assert cp == {"from": "unit.acc.delta1", "to": "unit.acc.ring3", "ns": 8.5,
                  "logic_ns": 4.25, "routing_ns": 4.25, "logic_steps": 2}
    assert critical_path({"critical_paths": [io]}) is None


@pytest.mark.parametrize("name", list(UNITS))
def test_each_unit_builds_alone(name):
    """`attnhw synth --unit NAME` / `make fmax-budget`: every unit elaborates inside the
    out-of-context harness, with every port reaching the harness."""
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16)
    harness = SynthHarness(p, unit_component(p, name))
    assert harness._inputs and harness._outputs
    text = rtlil.convert(harness, name="top", emit_src=False)
    assert "module \\top" in text


def test_the_projection_builds_alone_and_needs_its_parameters():
    """`attnhw synth --unit out_proj --out-features N …`: the engine's projection in the
    harness, every port reaching it; without --out-features a one-line error."""
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16, out_features=8, proj_heads=2,
                   proj_lanes=4, tile_rows=4)
    harness = SynthHarness(p, unit_component(p, "out_proj"))
    assert set(ENGINE_UNITS) == {"out_proj"}
    assert len(Cat(*harness._outputs)) == 4 * 8 + 2 + 1 + 2 + 2   # y, flags, valid, readies, errors
    assert "module \\top" in rtlil.convert(harness, name="top", emit_src=False)
    with pytest.raises(ValueError, match="needs --out-features"):
        unit_component(AttnParams(head_dim=8, lanes=4, max_seq_len=16), "out_proj")


def test_units_the_core_runs_unstalled_are_built_with_ready_high():
    """The score pipeline's units see `o.ready` tied high in the core, and so in the
    harness with `tie_ready`: it leaves the shift chain and its stall logic folds away."""
    from amaranth.hdl import Fragment
    from amaranth.sim import Simulator

    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16)
    assert READY_TIED == {"dot_product", "score_scale", "online_softmax", "exp2"}
    free, tied = (SynthHarness(p, unit_component(p, "exp2"), tie_ready=t) for t in (False, True))
    assert tied.harness_ffs == free.harness_ffs - 1
    Fragment.get(free, None)            # elaborated, as a harness is (no unused-elaboratable)
    seen = []

    async def tb(ctx):
        for _ in range(3):
            await ctx.tick()
            seen.append(ctx.get(tied.unit.o.ready))

    sim = Simulator(tied)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen == [1, 1, 1]


def test_engine_table_takes_utilisation_the_configuration_can_run():
    """GMAC/s = Fmax x multipliers x utilisation at the longest benchmarked N that the
    report's max_seq_len holds; a configuration never benchmarked shows its peak."""
    from attnhw.synth_table import engine_synth_table

    def report(max_seq_len, lanes=16):
        return {"target": "ecp5", "device": "dev", "luts": 1, "ffs": 1, "dsps": 1, "brams": 1,
                "fmax_mhz": 100.0, "date": "d",
                "utilization": {c: {"available": 9} for c in ("TRELLIS_COMB", "MULT18X18D", "DP16KD")},
                "params": {"head_dim": 64, "data_width": 8, "lanes": lanes, "block": 1,
                           "max_seq_len": max_seq_len, "exp_bits": 17}}
    bench = [{"head_dim": 64, "lanes": 16, "block": 1, "seq_len": n, "utilisation": u}
             for n, u in ((256, 0.5), (1024, 0.75))]
    rows = engine_synth_table([report(1024), report(256), report(256, lanes=8)], bench,
                              ["a", "b", "c"]).splitlines()[2:]
    assert "| 2.40 (utilisation 0.750 at N = 1024) |" in rows[0]     # 100 MHz x 32 x 0.75
    assert "| 1.60 (utilisation 0.500 at N = 256) |" in rows[1]
    assert "| 1.60 peak (not benchmarked) |" in rows[2]               # 100 MHz x 16


def test_engine_table_of_seeds_uses_the_lowest_fmax_only_when_every_seed_routed():
    from attnhw.synth_table import engine_synth_table
    params = {"head_dim": 64, "data_width": 8, "lanes": 16, "block": 4, "norm_lanes": 4,
              "max_seq_len": 1024, "exp_bits": 17}
    util = {c: {"available": 9} for c in ("TRELLIS_COMB", "MULT18X18D", "DP16KD")}

    def seeds(*fmax):
        return {"target": "ecp5", "device": "dev", "luts": 1, "ffs": 1, "dsps": 1, "brams": 1,
                "date": "d", "commit": "abc1234", "utilization": util, "params": params,
                "seeds": [{"seed": n + 1, "routed": f is not None, "fmax_mhz": f}
                          for n, f in enumerate(fmax)],
                "fmax_min_mhz": None if None in fmax else min(fmax)}
    bench = [{"head_dim": 64, "lanes": 16, "block": 4, "seq_len": 1024, "utilisation": 0.5}]
    routed, missed = engine_synth_table([seeds(150.0, 125.0, 140.0), seeds(150.0, None, 140.0)],
                                        bench, ["a", "b"]).splitlines()[2:]
    assert "| 125.0 MHz, the lowest of seeds 1,2,3 (150.0 MHz / 125.0 MHz / 140.0 MHz) |" in routed
    assert "| 8.00 (utilisation 0.500 at N = 1024) |" in routed       # 125 MHz x 128 x 0.5
    assert "norm_lanes 4" in routed and "(d, abc1234)" in routed
    assert "not routed at every seed (1,2,3: 150.0 MHz / not routed / 140.0 MHz) | — |" in missed


def test_unknown_router_is_refused_before_any_work():
    from attnhw.synth import synthesize
    with pytest.raises(ValueError, match="unknown --router 'router3'; choose one of router2, router1"):
        synthesize(AttnParams(head_dim=8, lanes=4, max_seq_len=16), router="router3")


def test_ice40_gets_the_one_bank_divider():
    """Elaborated for iCE40 the normaliser has one bank of one-cycle steps (fewer logic
    cells; its clock leaves room for the whole carry chain), elsewhere two split banks."""
    from attnhw.synth import platform
    from attnhw.hdl.normalize import Normalize
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16)
    text = {t: rtlil.convert(Normalize(p), name="top", platform=platform(t), emit_src=False)
            for t in ("ice40", "ecp5")}
    assert "bank1_rem0" in text["ecp5"] and "bank0_lo0" in text["ecp5"]
    assert "bank0_rem0" in text["ice40"]
    assert "bank1_" not in text["ice40"] and "bank0_lo0" not in text["ice40"]


def test_ecp5_clock_pad_is_placed_on_a_clock_input(tmp_path):
    """On ECP5 nextpnr gets an LPF that puts the harness's clock on the dedicated clock
    input G2 (a freely placed clock pad can have no route to a global buffer); iCE40
    gets the router only."""
    from attnhw.synth import pnr_options, platform
    options = pnr_options("ecp5", tmp_path, "router2")
    assert options[:2] == ["--router", "router2"]
    lpf = options[options.index("--lpf") + 1]
    assert (tmp_path / lpf).read_text().split() == ["LOCATE", "COMP", '"clk"', "SITE", '"G2";']
    assert "--lpf-allow-unconstrained" in options
    # The harness's clock port is the one the LPF names.
    text = rtlil.convert(SynthHarness(AttnParams(head_dim=8, lanes=4, max_seq_len=16)),
                                 name="top", platform=platform("ecp5"), emit_src=False)
    top = text[text.index("module \\top\n"):]
    top = top[:top.index("\nend\n")]
    assert re.search(r"wire width 1 input \d+ +\\clk\n", top)
    assert pnr_options("ice40", tmp_path / "none", "router1") == ["--router", "router1"]


def test_placer_options_and_heatmap_reach_nextpnr(tmp_path):
    from attnhw.synth import pnr_options, synthesize
    options = pnr_options("ice40", tmp_path, "router2", placer_density=0.7, heatmap=True)
    assert options == ["--router", "router2", "--placer-heap-beta", "0.7",
                       "--router2-heatmap", "heatmap"]
    assert pnr_options("ice40", tmp_path, "router2", placer="static") == [
        "--router", "router2", "--placer", "static"]
    with pytest.raises(ValueError, match="unknown --placer 'sa'"):
        synthesize(AttnParams(head_dim=8, lanes=4, max_seq_len=16), "ecp5", placer="sa")
    with pytest.raises(ValueError, match="on the ecp5 target only"):
        synthesize(AttnParams(head_dim=8, lanes=4, max_seq_len=16), "ice40",
                   floorplan="core-columns")
    with pytest.raises(ValueError, match="density"):
        synthesize(AttnParams(head_dim=8, lanes=4, max_seq_len=16), "ecp5",
                   placer_density=1.5, work_dir=tmp_path)


_PNR_LOG = """\
Info: HeAP Placer Time: 226.01s
Info: SA placement time 507.12s
Info: Max frequency for clock '$glbnet$clk$TRELLIS_IO_IN': 84.50 MHz (FAIL at 200.00 MHz)
Info:     iter=1 wires=6711 overused=374 overuse=504 archfail=NA
Info:     iter=2 wires=6743 overused=191 overuse=266 archfail=NA
Info:     iter=3 wires=6771 overused=836 overuse=900 archfail=NA
"""


def test_pnr_log_summary_shows_a_router_that_diverges():
    """`attnhw synth --seeds`: phase times, the placement estimate, and router2's overuse
    per iteration, from which a diverging run (fewest overused wires, then more) shows."""
    from attnhw.pnr_log import parse_pnr_log
    s = parse_pnr_log(_PNR_LOG)
    assert (s["heap_s"], s["sa_s"], s["router2_s"]) == (226.01, 507.12, None)
    assert s["placed_mhz"] == 84.5
    assert s["overuse"] == [[1, 374], [2, 191], [3, 836]]
    assert (s["min_overused"], s["min_overused_iter"], s["last_overused"]) == (191, 2, 836)
    done = parse_pnr_log(_PNR_LOG + "Info: Router2 time 457.30s\n")
    assert done["router2_s"] == 457.3
    assert parse_pnr_log("")["overuse"] == []


def test_a_tool_past_its_timeout_is_stopped_and_its_log_kept(tmp_path):
    import sys
    import time
    from attnhw.synth import ToolTimeout, run_tool
    cmd = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(30)"]
    start = time.time()
    with pytest.raises(ToolTimeout, match="stopped after 1 s"):
        run_tool(cmd, tmp_path / "tool.log", "sleeper", timeout=1)
    assert time.time() - start < 10
    assert "started" in (tmp_path / "tool.log").read_text()
    run_tool([sys.executable, "-c", "print('done')"], tmp_path / "ok.log", "quick", timeout=30)
    with pytest.raises(RuntimeError, match="quick failed"):
        run_tool([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "bad.log", "quick")


def test_seeds_need_a_place_and_route_target():
    from attnhw.synth import synthesize
    with pytest.raises(ValueError, match="--seeds needs a place-and-route target"):
        synthesize(AttnParams(head_dim=8, lanes=4, max_seq_len=16), "xc7", seeds=[1, 2])


def test_amaranths_build_plan_carries_the_private_flows_script():
    """`python -m attnhw.tools amaranth-build`: Amaranth's ECP5 flow for the harness runs
    the private flow's Yosys insertions (the copies' keep, classic ABC after
    synth_ecp5 stops before LUT mapping) and nextpnr's seed, clock, placer and router."""
    from attnhw.amaranth_build import amaranth_plan
    plan = amaranth_plan(SynthHarness(AttnParams(head_dim=8, lanes=4, max_seq_len=16)),
                         seed=3, freq_mhz=150)
    script = [line.strip() for line in plan.files["top.ys"].splitlines()]
    read = script.index("read_rtlil top.il")
    assert script[read + 1] == "proc; opt_clean; attrmvcp -copy -attr keep"
    assert script[read + 2] == "synth_ecp5 -run begin:map_luts -top top"
    assert script[read + 3].startswith("techmap -map +/lattice/latches_map.v; abc -lut 4:7")
    assert "--seed 3 --freq 150 --placer heap --router router2" in plan.files["build_top.sh"]
    assert 'LOCATE COMP "clk_0__io" SITE "G2";' in plan.files["top.lpf"]


def test_the_commit_stamp_is_the_launch_commits(tmp_path, monkeypatch):
    """A run records the commit whose gateware it elaborated, taken when the RTLIL is
    written: edits made to the tree while Yosys runs do not mark it "+"."""
    import json

    from attnhw import synth
    edited = []                       # the tree is edited while Yosys runs
    monkeypatch.setattr(synth, "git_commit", lambda: "abc1234+" if edited else "abc1234")

    def fake_yosys(cmd, log_path, what, timeout=None):    # an empty netlist
        (tmp_path / "top.json").write_text(json.dumps({"modules": {"top": {"cells": {}}}}))
        log_path.write_text("")
        edited.append(True)
    monkeypatch.setattr(synth, "run_tool", fake_yosys)
    r = synth.synthesize(AttnParams(head_dim=8, lanes=4, max_seq_len=16), "xc7",
                         work_dir=tmp_path, log=lambda *a: None)
    assert r["commit"] == "abc1234"
