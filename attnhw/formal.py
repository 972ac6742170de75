"""``attnhw formal`` (``make formal``): every formal property, its broken variant and
its cover, plus the exhaustive check of the exp unit at full width; a table, a JSON
and a markdown report under ``build/formal``."""

import json
import pathlib

from attnhw.golden.errors import InputError
from attnhw.golden.params import AttnParams
from attnhw.sim.exhaustive_exp import check_exp_exhaustive
from attnhw.sim.formal.harnesses import PROPERTIES
from attnhw.sim.formal.sby import run_property
from attnhw import __version__

from .outputs import atomic_write

__all__ = ["run_formal", "format_formal"]


def run_formal(names=None, out_dir="build/formal", log=print):
    """Prove each property; its ``broken`` variant must fail, its covers be reached."""
    out = pathlib.Path(out_dir)
    known = [p.name for p in PROPERTIES] + ["exp_exhaustive"]
    for name in names or []:
        if name not in known:
            raise InputError(f"unknown property {name!r}; choose from {', '.join(known)}")
    rows = []
    for prop in PROPERTIES:
        if names and prop.name not in names:
            continue
        log(f"{prop.name}: {prop.claim} ({prop.mode}, depth {prop.depth}) ...")
        proof = run_property(prop, out_dir=out)
        broken = run_property(prop, broken=True, out_dir=out)
        cover = run_property(prop, cover=True, out_dir=out)
        row = {"name": prop.name, "claim": prop.claim, "mode": proof["mode"],
               "depth": prop.depth, "proof": proof["status"], "seconds": proof["seconds"],
               "broken_how": prop.broken_how, "broken": broken["status"],
               "broken_trace": broken["trace"], "cover": cover["status"]}
        row["ok"] = proof["status"] == "pass" and broken["status"] == "fail" \
            and cover["status"] == "pass"
        if proof["status"] != "pass":
            log(f"  FAILED: {proof['status']}; counterexample: {proof['trace']} "
                f"(log {proof['log']})")
        log(f"  proof {proof['status']} ({proof['seconds']} s), broken variant "
            f"{broken['status']} (trace {broken['trace']}), cover {cover['status']}")
        rows.append(row)
    exhaustive = None
    if not names or "exp_exhaustive" in names:
        log("exp_exhaustive: the default exp unit on every input, RTL vs golden (Verilator) ...")
        exhaustive = check_exp_exhaustive(AttnParams())
        log(f"  {exhaustive}")
    report = {"attnhw_version": __version__, "properties": rows, "exp_exhaustive": exhaustive,
              "ok": all(r["ok"] for r in rows) and (exhaustive is None or exhaustive["ok"])}
    atomic_write(out / "report.json", lambda f: json.dump(report, f, indent=1))
    atomic_write(out / "report.md", lambda f: f.write(format_formal(report) + "\n"))
    return report


def format_formal(report):
    lines = ["| property | what a pass means | engine | depth | proof | time (s) | "
             "broken on purpose | broken result | cover |", "|---|---|---|---|---|---|---|---|---|"]
    for r in report["properties"]:
        lines.append(f"| `{r['name']}` | {r['claim']} | {r['mode']} | {r['depth']} | "
                     f"{r['proof']} | {r['seconds']} | {r['broken_how']} | {r['broken']} | "
                     f"{r['cover']} |")
    e = report["exp_exhaustive"]
    if e:
        lines.append(f"\nexp unit, default widths, every input: {e['inputs']} inputs, "
                     f"{e['mismatches']} mismatches against golden, monotone: {e['monotone']}, "
                     f"within [0, 2^E - 1]: {e['within_range']}")
    lines.append("\nall as expected" if report["ok"] else "\nFAILED (see above)")
    return "\n".join(lines)
