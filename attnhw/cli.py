"""``attnhw``: generate Verilog, simulate, run your tensors, synthesise, measure.

The subcommands that build or run a configuration take its parameters (``--head-dim``,
``--lanes``, ...), defined once in :class:`attnhw.golden.params.AttnParams`. A user's
error is one line on stderr and exit status 2, and no output file is left behind; any
other exception is a bug and keeps its traceback (:func:`attnhw.cli_common.run_command`).
The maintainer's commands (tables and plots written into the docs) are
``python -m attnhw.tools`` (:mod:`attnhw.tools.cli`).
"""

import argparse
import pathlib
import sys

from attnhw.golden.errors import InputError

from .cli_common import add_params, int_list, param_values, params, run_command, \
    update_page, update_page_with_plot
from .cli_board import add_board
from .cli_synth import add_synth

__all__ = ["main", "parser"]


def cmd_verilog(args):
    from attnhw.outputs import write_verilog
    p = params(args)
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
    p = params(args)
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
    return run_files(param_values(args), args)


def cmd_accuracy(args):
    from attnhw.accuracy import run_accuracy
    p = params(args)
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


def cmd_bench(args):
    from attnhw.bench import config_params, run_bench, write_report
    configs = int_list(args.configs, "--configs", 3)
    seq_lens = int_list(args.seq_lens, "--seq-lens")
    if args.heads < 1:
        raise InputError(f"--heads {args.heads}: at least 1")
    # --configs sets head_dim, lanes and block; the rest comes from the flags (and --preset).
    base = {k: v for k, v in param_values(args).items() if k not in ("head_dim", "lanes", "block")}
    for config in configs:                  # every configuration valid before any run
        config_params(base, *config, seq_lens)
    records = run_bench(configs, seq_lens, heads=args.heads, base=base,
                        simulator=args.simulator, seed=args.seed)
    # The command that computes the table (the tools' --update-readme only places it).
    argv = sys.argv[1:]
    if "--update-readme" in argv:
        at = argv.index("--update-readme")
        argv = argv[:at] + argv[at + 2:]
    command = "attnhw " + " ".join(argv) if argv[:1] == ["bench"] else "attnhw bench"
    md = write_report(records, args.out_dir, json_path=args.json, command=command)
    if args.update_readme:
        from attnhw.bench import README_BEGIN, README_END
        update_page(args.update_readme, README_BEGIN, README_END, md, "benchmark table")
    print(md)
    print(f"wrote {args.out_dir}/bench.md, bench.json, bench.png")
    return 0 if all(r["meets_target"] for r in records) else 1


def cmd_soak(args):
    from attnhw.soak import format_soak, soak
    s = soak(args.words, args.seed, args.configs, simulator=args.simulator,
             json_path=args.json, replay=args.replay, engine_words=args.engine_words,
             engine_configs=args.engine_configs)
    print(format_soak(s))
    return 1 if s["failed_jobs"] else 0


def cmd_model_check(args):
    from attnhw.model_check import README_BEGIN, README_END, run_model_check, write_report
    report = run_model_check()
    table = write_report(report, args.out_dir, "attnhw model-check")
    if args.update_readme:
        update_page_with_plot(args, README_BEGIN, README_END, table, "model_check.png",
                               "model check")
    print(table)
    print(f"wrote {args.out_dir}/model_check.md, model_check.json, model_check.png")


def cmd_proj_accuracy(args):
    from attnhw.proj_accuracy import PAGE_BEGIN, PAGE_END, run_proj_accuracy, write_report
    report = run_proj_accuracy(engine_check=not args.no_engine)
    table = write_report(report, args.out_dir, "attnhw proj-accuracy")
    if args.update_readme:
        update_page_with_plot(args, PAGE_BEGIN, PAGE_END, table, "proj_accuracy.png",
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


def add_bench(subparsers):
    """``bench``'s arguments (the tools add ``--update-readme``)."""
    from attnhw.bench import DEFAULT_CONFIGS, DEFAULT_SEQ_LENS
    b = subparsers.add_parser("bench", help="engine cycles vs the multiplier floor on "
                                            "Verilator (table, JSON, PNG)")
    add_params(b)
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
    b.set_defaults(func=cmd_bench)
    return b


def add_accuracy(subparsers):
    """``accuracy``'s arguments (the tools add ``--update-readme``)."""
    a = subparsers.add_parser("accuracy", help="error and cost of every numerics variant, "
                              "peers beside them: markdown, JSON and PNG report")
    add_params(a)
    a.add_argument("--elements", type=int, default=100_000,
                   help="outputs per variant and distribution")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--out-dir", default="build/accuracy")
    a.add_argument("--json", help="also write the JSON report here")
    a.add_argument("--no-synth", action="store_true", help="skip the ECP5 cost (fast)")
    a.set_defaults(func=cmd_accuracy)
    return a


def add_model_check(subparsers):
    """``model-check``'s arguments (the tools add ``--update-readme``)."""
    mc = subparsers.add_parser("model-check", help="all-MiniLM-L6-v2 with every attention "
                               "layer in attnhw's arithmetic: embedding cosine and per-layer "
                               "error")
    mc.add_argument("--out-dir", default="build/model-check")
    mc.set_defaults(func=cmd_model_check)
    return mc


def add_proj_accuracy(subparsers):
    """``proj-accuracy``'s arguments (the tools add ``--update-readme``)."""
    pa = subparsers.add_parser("proj-accuracy", help="attention + output projection against "
                               "float64 beside the ideal int8 pipeline, on random data and "
                               "all-MiniLM-L6-v2's layers; one real layer on the engine's RTL")
    pa.add_argument("--out-dir", default="build/proj-accuracy")
    pa.add_argument("--no-engine", action="store_true", help="skip the RTL check")
    pa.set_defaults(func=cmd_proj_accuracy)
    return pa


def parser():
    """The ``attnhw`` argument parser."""
    from attnhw.version import __version__
    ap = argparse.ArgumentParser(prog="attnhw", description=__doc__.split("\n")[0].replace("``", ""))
    ap.add_argument("--version", action="version", version=f"attnhw {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)

    v = sub.add_parser("verilog", help="emit Verilog and a JSON of parameters and ports")
    add_params(v)
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
    add_params(s)
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
    add_params(r)
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

    add_synth(sub)
    add_board(sub)

    for add in (add_bench, add_accuracy, add_model_check, add_proj_accuracy):
        add(sub).set_defaults(update_readme=None)         # the tools' flag

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

    f = sub.add_parser("formal", help="formal properties (SymbiYosys) and the exhaustive exp check")
    f.add_argument("only", nargs="*", help="property names (default: all)")
    f.set_defaults(func=cmd_formal)
    return ap


def main(argv=None):
    """``attnhw``: run one subcommand; its exit status."""
    args = parser().parse_args(argv)
    return run_command("attnhw", args)


if __name__ == "__main__":
    sys.exit(main())
