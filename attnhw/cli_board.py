"""``attnhw board``: bitstreams of the engine behind the UART host link for real boards."""

from attnhw.golden.errors import InputError

from .cli_common import add_params, params

__all__ = ["add_board", "cmd_board_build"]


def _board_list():
    from attnhw.board_build import BOARDS
    return "\n".join(f"{name}: " + (f"not supported: {b.unsupported}" if b.unsupported
                                    else f"{b.platform.split(':')[1]}, flash with "
                                         f"`{b.flash}`")
                     for name, b in BOARDS.items())


def cmd_board_build(args):
    import json

    from attnhw.board_build import build_board
    if not args.board:
        print(_board_list())
        return 0
    if not args.out:
        raise InputError("give -o DIR, the folder for the bitstream and its report")
    summary = build_board(args.board, params(args), args.out, clock_mhz=args.clock_mhz,
                          seed=args.seed)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("params", "pll")},
                     indent=2))
    return 0


def add_board(subparsers):
    b = subparsers.add_parser("board", help="a board's bitstream: the engine behind the "
                                             "UART host link (docs/link.md)")
    bsub = b.add_subparsers(dest="board_cmd", required=True)
    build = bsub.add_parser("build", help="build a bitstream (ECP5 boards; Yosys, nextpnr "
                                          "and ecppack from YoWASP)")
    build.add_argument("--board", nargs="?", const="", default="",
                       help="the board; without a name: list the boards")
    build.add_argument("-o", "--out", metavar="DIR",
                       help="folder for attnhw_<board>.bit, .svf and .json")
    build.add_argument("--clock-mhz", type=float, default=None,
                       help="the engine's clock to try first (default: the board's, 58 MHz "
                            "on the ULX3S, 85 on the ECPIX-5); lowered to what place and "
                            "route meets")
    build.add_argument("--seed", type=int, default=1, help="nextpnr's seed")
    add_params(build)
    # The engine preset unless the flags say otherwise (the core's defaults hold K/V
    # for 4096 keys, more block RAM than an LFE5U-85 has).
    build.set_defaults(func=cmd_board_build, preset="ecp5-engine")
