"""``attnhw synth``: Yosys and nextpnr on the core, one of its units or the engine."""

from attnhw.golden.errors import InputError

from .cli_common import add_params, params
from .floorplan import FLOORPLANS

__all__ = ["add_synth", "cmd_synth"]


def cmd_synth(args):
    from attnhw.synth import ROUTERS, format_report, synthesize
    p = params(args)
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
                     placer_density=args.placer_density, heatmap=args.heatmap,
                     placer=args.placer, floorplan=args.floorplan)
    print(format_report(rep))


def add_synth(subparsers):
    """The ``synth`` subcommand's parser."""
    from attnhw.synth import PLACERS, ROUTERS, TARGETS     # Amaranth's back end: lazily
    y = subparsers.add_parser("synth", help="Yosys + nextpnr: LUTs, FFs, DSPs, BRAMs, Fmax")
    add_params(y)
    y.add_argument("--target", default="ecp5", choices=list(TARGETS),
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
    y.add_argument("--router", choices=ROUTERS, help="nextpnr's router (default router2)")
    y.add_argument("--placer-density", type=float, metavar="F",
                   help="the placer's highest cell density (nextpnr's --placer-heap-beta, "
                        "0 to 1; lower spreads the cells, for a router that does not "
                        "converge)")
    y.add_argument("--placer", choices=PLACERS, default=PLACERS[0],
                   help="nextpnr's placer: heap (default) or static (electrostatic)")
    y.add_argument("--floorplan", choices=FLOORPLANS, default=FLOORPLANS[0],
                   help="ECP5 engine: pin each core's DSPs to thirds of the DSP rows "
                        "(core-columns; attnhw.floorplan), or leave them to the placer")
    y.add_argument("--heatmap", action="store_true",
                   help="router2's congestion heatmaps (CSV) beside each nextpnr log")
    y.add_argument("--freq", type=float, metavar="MHZ",
                   help="clock nextpnr aims at (default 200 on ECP5, 50 on iCE40)")
    y.set_defaults(func=cmd_synth)
    return y
