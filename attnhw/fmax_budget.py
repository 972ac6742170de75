"""Where the clock goes: ECP5 Fmax of each core unit alone and of the whole core.

``python -m attnhw.tools fmax-budget`` / ``make fmax-budget`` synthesises every unit of
:data:`attnhw.hdl.synth_harness.UNITS` and the core on the LFE5U-85F-8 and writes
``fmax_budget.{json,md,png}``: per unit its LUTs, FFs, DSPs, Fmax and the worst
path nextpnr reports (from which register to which, logic against routing time).
The slowest unit bounds the core. A last row, ``mult18_registered``, is not part of
the design: one :class:`attnhw.hdl.multiplier.Multiplier` (s18 x s18, a MULT18X18D with its
own input and output registers), to show what the DSP itself allows.
"""

import json
import pathlib

from amaranth.hdl import signed

from attnhw.hdl.emit import provenance
from attnhw.hdl.multiplier import Multiplier

from attnhw.hdl.synth_harness import READY_TIED, UNITS, unit_component

from .outputs import atomic_write, replace_between
from .synth import TARGETS, synthesize

__all__ = ["run_fmax_budget", "budget_table", "ROWS", "README_BEGIN", "README_END", "TARGET_MHZ"]

README_BEGIN = "<!-- Fmax budget: written by make fmax-budget (python -m attnhw.tools fmax-budget) -->"
README_END = "<!-- end of Fmax budget -->"
#: The engine's ECP5 clock target (issue 12: at least 200 MHz, every unit 250).
TARGET_MHZ = 250.0


#: Rows of the budget: the core's units, the core, then the DSP reference.
ROWS = [*UNITS, "core", "mult18_registered"]


def _component(p, name):
    if name == "core":
        return None                         # SynthHarness's default: the whole core
    if name == "mult18_registered":
        return Multiplier(signed(18), signed(18))
    return unit_component(p, name)


def run_fmax_budget(p, out_dir, *, seed=1, readme=None, log=print):
    """Synthesise each unit and the core for ``p``; write the report; returns
    ``{"records": [...], "markdown": str}``."""
    out = pathlib.Path(out_dir)
    records = []
    for name in ROWS:
        log(f"[{len(records) + 1}/{len(ROWS)}] {name} ...")
        r = synthesize(p, "ecp5", unit=_component(p, name), seed=seed, freq_mhz=TARGET_MHZ,
                       tie_ready=name in READY_TIED, log=lambda *_: None)
        records.append({"unit": name, **{k: r[k] for k in (
            "luts", "ffs", "dsps", "brams", "fmax_mhz", "critical_path", "seconds", "date")}})
        log(f"    {r['fmax_mhz']} MHz, worst path {r['critical_path']['from']} -> "
            f"{r['critical_path']['to']}")
    md = budget_table(records)
    atomic_write(out / "fmax_budget.json", lambda f: f.write(json.dumps(
        {**provenance(p), "device": TARGETS["ecp5"].device, "seed": seed,
         "target_mhz": TARGET_MHZ, "records": records}, indent=2) + "\n"))
    atomic_write(out / "fmax_budget.md", lambda f: f.write(md + "\n"))
    _plot(records, out / "fmax_budget.png")
    if readme:
        replace_between(readme, README_BEGIN, README_END, md)
    return {"records": records, "markdown": md}


def budget_table(records):
    """Markdown, one row per unit; the period is the worst path's delay."""
    lines = ["| unit | LUTs | FFs | DSPs | Fmax (MHz) | worst path (ns) | logic / routing (ns) "
             "| from → to |", "|---|---|---|---|---|---|---|---|"]
    for r in records:
        cp = r["critical_path"]
        lines.append(f"| {r['unit']} | {r['luts']:,} | {r['ffs']:,} | {r['dsps']} | "
                     f"{r['fmax_mhz']} | {cp['ns']} | {cp['logic_ns']} / {cp['routing_ns']} | "
                     f"`{cp['from']}` → `{cp['to']}` |")
    return "\n".join(lines)


def _plot(records, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
    names = [r["unit"] for r in records]
    logic = [1000 / r["fmax_mhz"] * r["critical_path"]["logic_ns"] / r["critical_path"]["ns"]
             for r in records]
    routing = [1000 / r["fmax_mhz"] - lg for r, lg in zip(records, logic)]
    ax.barh(names, logic, label="logic (cells, carry, DSP)")
    ax.barh(names, routing, left=logic, label="routing")
    ax.axvline(1000 / TARGET_MHZ, color="k", linestyle="--",
               label=f"{TARGET_MHZ:.0f} MHz ({1000 / TARGET_MHZ:.1f} ns)")
    ax.invert_yaxis()
    ax.set_xlabel("clock period (ns) = 1000 / Fmax, split as on the worst path")
    ax.set_title("ECP5-85F speed 8: each unit alone, then the core")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110), binary=True)
    plt.close(fig)
