"""``python -m attnhw.tools``: the maintainer's commands.

They write the generated tables and plots into the docs (the ``make`` targets call
them: ``make synth-engine``, ``synth-families``, ``fmax-budget``, ``accuracy``,
``bench``, ``model-check``, ``proj-accuracy``) and simulate synthesised netlists
(``make synth``). ``accuracy``, ``bench``, ``model-check`` and ``proj-accuracy`` are
``attnhw``'s commands of those names, run again with ``--update-readme PAGE``. Errors
follow :func:`attnhw.cli_common.run_command`.
"""

import argparse
import pathlib
import sys

from attnhw.cli import add_accuracy, add_bench, add_model_check, add_proj_accuracy
from attnhw.cli_common import add_params, params, run_command, update_page
from attnhw.golden.errors import InputError

__all__ = ["main", "parser"]


def cmd_postsynth(args):
    import json

    import numpy as np

    from attnhw.postsynth import run_postsynth, run_postsynth_engine
    from attnhw.sim.scenarios import scenario_job
    p = params(args)
    if args.top == "engine":
        r = run_postsynth_engine(p, seed=args.seed)
        r["missing_rows"] = r["rows_expected"] - r["rows_out"]
        r["flags_ok"] = r["flags_ok"] and r["status"] == 0     # row flags, STATUS clean
    else:
        job, _ = scenario_job(p, np.random.default_rng(args.seed),
                              n_max=min(p.max_seq_len, 12), repeats=args.repeats)
        r = run_postsynth(job)
    keys = ("words_compared", "mismatches", "missing_rows", "extra_output_beats", "cycles",
            *(("flags_ok",) if args.top == "engine" else ()))
    from attnhw.hdl.emit import provenance
    summary = {**provenance(p, args.top), **{k: r[k] for k in keys},
               "protocol_errors": len(r["protocol_errors"])}
    if args.json:
        from attnhw.outputs import atomic_write
        atomic_write(args.json, lambda f: f.write(json.dumps(summary, indent=2) + "\n"))
    print(f"ECP5 netlist of the {args.top}: {r['words_compared']} words compared with golden, "
          f"{r['mismatches']} mismatches, {r['missing_rows']} missing rows, "
          f"{r['extra_output_beats']} extra beats")
    bad = (r["mismatches"] + r["missing_rows"] + r["extra_output_beats"]
           + len(r["protocol_errors"]) + (not r.get("flags_ok", True)))
    return 1 if bad or not r["words_compared"] else 0


def cmd_fmax_budget(args):
    from attnhw.fmax_budget import run_fmax_budget
    r = run_fmax_budget(params(args), args.out_dir, seed=args.seed, readme=args.update_readme)
    print(f"wrote {args.out_dir}/fmax_budget.md, fmax_budget.json, fmax_budget.png")
    if args.update_readme:
        print(f"updated the Fmax budget table in {args.update_readme}")
    print(r["markdown"])


def cmd_amaranth_build(args):
    import json
    import tempfile

    from attnhw.amaranth_build import build_with_amaranth
    from attnhw.synth import synthesize
    p = params(args)
    root = pathlib.Path(args.work_dir or tempfile.mkdtemp(prefix="amaranth-build-"))
    ours = synthesize(p, "ecp5", seed=args.seed, work_dir=root / "attnhw", log=lambda s: None)
    theirs = build_with_amaranth(p, root / "amaranth", seed=args.seed)
    keys = ("luts", "ffs", "dsps", "brams", "fmax_mhz", "seconds")
    rows = ["| flow | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, r in (("attnhw synth", ours), ("Amaranth LatticePlatform.build", theirs)):
        rows.append(f"| {name} | " + " | ".join(str(r[k]) for k in keys) + " |")
    print("\n".join(rows))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"attnhw": {k: ours[k] for k in keys}, "amaranth": theirs,
             "commit": ours["commit"], "date": ours["date"], "seed": args.seed}, indent=2))


def cmd_link_budget(args):
    from attnhw.link_budget import TABLE_BEGIN, TABLE_END, prefill_and_step
    table = prefill_and_step(params(args), args.keys, args.baud, args.clock_mhz)
    if args.update_readme:
        update_page(args.update_readme, TABLE_BEGIN, TABLE_END, table, "link budget table")
    print(table)


def _check_report_commands(args):
    if len(args.report) != len(args.command):
        raise InputError("give one --command per --report (the command that made it)")


def _add_report_commands(parser):
    parser.add_argument("--report", action="append", required=True, metavar="JSON",
                        help="a synth JSON report")
    parser.add_argument("--command", action="append", required=True,
                        help="the command that made the report (one per --report)")


def cmd_synth_table(args):
    from attnhw.synth_table import write_table
    _check_report_commands(args)
    print(write_table(args.report, args.bench, args.command, args.update_readme))
    if args.update_readme:
        print(f"updated the engine synthesis table in {args.update_readme}")


def cmd_family_table(args):
    import json

    from attnhw.synth_families import TABLE_BEGIN, TABLE_END, family_table
    _check_report_commands(args)
    reports = [json.loads(pathlib.Path(r).read_text()) for r in args.report]
    table = family_table(reports, args.command)
    if args.update_readme:
        update_page(args.update_readme, TABLE_BEGIN, TABLE_END, table, "other-families table")
    print(table)


def parser():
    """The ``python -m attnhw.tools`` argument parser."""
    ap = argparse.ArgumentParser(prog="python -m attnhw.tools",
                                 description=__doc__.split("\n")[0].replace("``", ""))
    sub = ap.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("synth-table", help="the engine synthesis table (docs/engine.md) from "
                                           "`attnhw synth --json` reports and bench records")
    _add_report_commands(t)
    t.add_argument("--bench", action="append",
                   help="bench JSON (utilisation for GMAC/s); may be repeated")
    t.add_argument("--update-readme", metavar="README")
    t.set_defaults(func=cmd_synth_table)

    ft = sub.add_parser("family-table", help="the other-families synthesis table from "
                        "`attnhw synth --target xc7|xcup|cyclonev|gowin|nexus --json` reports")
    _add_report_commands(ft)
    ft.add_argument("--update-readme", metavar="PAGE",
                    help="replace the table between this markdown page's markers")
    ft.set_defaults(func=cmd_family_table)

    b = sub.add_parser("fmax-budget", help="ECP5 Fmax of each core unit alone and of the "
                                           "core: table, JSON and plot")
    add_params(b)
    b.add_argument("--out-dir", default="docs/synth")
    b.add_argument("--update-readme", metavar="README")
    b.add_argument("--seed", type=int, default=1)
    b.set_defaults(func=cmd_fmax_budget)

    ab = sub.add_parser("amaranth-build", help="the core's harness built by attnhw synth's "
                        "flow and by Amaranth's LatticePlatform.build, side by side (ECP5)")
    add_params(ab)
    ab.add_argument("--seed", type=int, default=1)
    ab.add_argument("--work-dir", metavar="DIR")
    ab.add_argument("--json", help="write both flows' figures as JSON")
    ab.set_defaults(func=cmd_amaranth_build)

    ps = sub.add_parser("postsynth", help="simulate the core's synthesised ECP5 netlist "
                                          "(DSP and RAM primitives) against golden")
    add_params(ps)
    ps.add_argument("--seed", type=int, default=1)
    ps.add_argument("--top", choices=["core", "engine"], default="core",
                    help="engine: a random layer (with --out-features, through the projection)")
    ps.add_argument("--repeats", type=int, default=1,
                    help="times each directed scenario runs (core)")
    ps.add_argument("--json", help="write the summary as JSON")
    ps.set_defaults(func=cmd_postsynth)

    lb = sub.add_parser("link-budget", help="bytes and seconds of a head on the board's "
                        "UART link beside the engine's compute time (docs/link.md)")
    add_params(lb)
    lb.add_argument("--keys", type=int, nargs="+", default=[128, 512, 1024])
    lb.add_argument("--baud", type=int, default=3_000_000)
    lb.add_argument("--clock-mhz", type=float, default=100.0, help="the engine's clock")
    lb.add_argument("--update-readme", metavar="PAGE",
                    help="replace the table between this markdown page's markers")
    lb.set_defaults(func=cmd_link_budget)

    for add, what in ((add_accuracy, "numerics tables"), (add_bench, "benchmark table"),
                      (add_model_check, "model check"),
                      (add_proj_accuracy, "projection accuracy")):
        add(sub).add_argument("--update-readme", metavar="PAGE", required=True,
                              help=f"replace the {what} between this page's markers")
    return ap


def main(argv=None):
    """``python -m attnhw.tools``: run one subcommand; its exit status."""
    return run_command("python -m attnhw.tools", parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
