"""The `attnhw` command line: outputs, and one-line errors that leave no file behind."""

import json
import math

import numpy as np
import pytest

from attnhw.cli import main
from attnhw.run_tensors import attention_float_natural


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_verilog_writes_verilog_and_port_json(tmp_path, capsys):
    path = tmp_path / "core.v"
    code, out, _ = _run(capsys, "verilog", "--head-dim", "16", "--lanes", "4", "-o", str(path))
    assert code == 0
    text = path.read_text()
    assert "module attnhw_core" in text and "/work/" not in text     # no machine paths
    desc = json.loads(path.with_suffix(".json").read_text())
    assert desc["params"]["head_dim"] == 16
    kv = desc["ports"]["kv"]
    assert [f["name"] for f in kv["fields"]] == ["k", "v", "masked", "last"]
    assert kv["payload_width"] == 2 * 4 * 8 + 2
    assert "kv__payload" in text


@pytest.mark.parametrize("argv, message", [
    (["--lanes", "5"], "lanes=5 must divide head_dim=64"),
    (["--data-width", "40"], "data_width=40 is out of range"),
])
def test_verilog_bad_parameters_one_line_no_file(tmp_path, capsys, argv, message):
    path = tmp_path / "core.v"
    code, _, err = _run(capsys, "verilog", *argv, "-o", str(path))
    assert code == 2
    assert err.count("\n") == 1 and message in err
    assert not path.exists() and not path.with_suffix(".json").exists()


def _tensors(tmp_path, rng, shape_q=(2, 5, 16), shape_k=(2, 9, 16)):
    files = {}
    for name, shape in (("q", shape_q), ("k", shape_k), ("v", shape_k)):
        files[name] = tmp_path / f"{name}.npy"
        np.save(files[name], rng.standard_normal(shape))
    return files


def test_run_golden_with_masks_matches_float_closely(tmp_path, capsys):
    rng = np.random.default_rng(0)
    f = _tensors(tmp_path, rng)
    mask = rng.random((2, 9)) < 0.3
    mask[:, 0] = False
    np.save(tmp_path / "m.npy", mask)
    out = tmp_path / "o.npy"
    code, text, err = _run(capsys, "run", "--q", str(f["q"]), "--k", str(f["k"]), "--v", str(f["v"]),
                           "--key-mask", str(tmp_path / "m.npy"), "--causal", "--out", str(out))
    assert code == 0, err
    o = np.load(out)
    assert o.shape == (2, 5, 16)
    q, k, v = (np.load(f[n]) for n in "qkv")
    causal = np.arange(9)[None, :] > np.arange(5)[:, None] + 4
    ref = attention_float_natural(q, k, v, 1 / math.sqrt(16), mask[:, None, :] | causal)
    # int8 quantisation of N(0,1) data: a few output steps of max|v|/127.
    assert np.max(np.abs(o - ref)) < 6 * np.max(np.abs(v)) / 127
    assert "error vs float64 attention on the unquantised inputs" in text


def test_run_rtl_backend_equals_golden_backend(tmp_path, capsys):
    rng = np.random.default_rng(2)
    f = _tensors(tmp_path, rng, (1, 3, 16), (1, 6, 16))
    outs = {}
    for backend in ("golden", "rtl"):
        outs[backend] = tmp_path / f"o_{backend}.npy"
        code, _, err = _run(capsys, "run", "--q", str(f["q"]), "--k", str(f["k"]), "--v", str(f["v"]),
                            "--causal", "--lanes", "16", "--max-seq-len", "64",
                            "--backend", backend, "--out", str(outs[backend]))
        assert code == 0, err
    assert np.array_equal(np.load(outs["golden"]), np.load(outs["rtl"]))


def test_run_engine_backend_on_batch_heads_equals_golden(tmp_path, capsys):
    """(batch, heads, N, d) tensors with a key mask and causal masking through the
    engine's RTL (one head per (batch, head)) equal the golden backend."""
    rng = np.random.default_rng(4)
    f = _tensors(tmp_path, rng, (2, 3, 5, 8), (2, 3, 7, 8))
    np.save(tmp_path / "mask.npy", rng.random((2, 3, 7)) < 0.3)
    outs = {}
    for backend in ("golden", "engine"):
        outs[backend] = tmp_path / f"o_{backend}.npy"
        code, _, err = _run(capsys, "run", "--q", str(f["q"]), "--k", str(f["k"]), "--v", str(f["v"]),
                            "--key-mask", str(tmp_path / "mask.npy"), "--causal",
                            "--preset", "test-engine",
                            "--backend", backend, "--out", str(outs[backend]))
        assert code == 0, err
    assert np.load(outs["engine"]).shape == (2, 3, 5, 8)
    assert np.array_equal(np.load(outs["golden"]), np.load(outs["engine"]))


def test_sim_reports_zero_mismatches(capsys):
    code, out, err = _run(capsys, "sim", "--head-dim", "16", "--lanes", "16", "--max-seq-len", "64",
                          "--seq-len", "20", "--queries", "5", "--gap", "0.2", "--stall", "0.2",
                          "--mask-prob", "0.2")
    assert code == 0, err
    assert "0 mismatches in 80 words" in out
    assert "utilisation" in out


def test_sim_waves_writes_a_trace(capsys):
    # A small core: the traced build is its own (no other test shares it).
    code, out, err = _run(capsys, "sim", "--head-dim", "8", "--lanes", "2", "--max-seq-len", "16",
                          "--seq-len", "4", "--queries", "2", "--waves")
    assert code == 0, err
    path = out.split("waves: ")[1].split()[0]
    with open(path) as f:
        head = f.read(200_000)
    assert "$var" in head and "kv__valid" in head


def test_preset_with_overrides_and_an_unknown_preset(tmp_path, capsys):
    out = tmp_path / "a.v"
    code, _, err = _run(capsys, "verilog", "--preset", "ice40", "--max-seq-len", "128", "-o", str(out))
    assert code == 0, err
    params = json.loads(out.with_suffix(".json").read_text())["params"]
    assert (params["head_dim"], params["lanes"], params["exp_bits"], params["scale_frac"],
            params["max_seq_len"]) == (16, 2, 15, 22, 128)
    code, _, err = _run(capsys, "verilog", "--preset", "ecp5", "-o", str(out))
    assert code == 2 and "unknown preset 'ecp5'; choose one of ice40, ice40-engine" in err


def test_generated_files_say_what_made_them_and_are_reproducible(tmp_path, capsys):
    import attnhw
    paths = [tmp_path / "a" / "e.v", tmp_path / "b" / "e.v"]
    for path in paths:
        code, _, err = _run(capsys, "verilog", "--top", "engine", "--preset", "test-engine",
                            "--name", "acme", "-o", str(path))
        assert code == 0, err
    text = paths[0].read_text()
    assert text == paths[1].read_text()                      # no dates, no paths
    first, second = text.split("\n")[:2]
    assert first == f"// acme_engine: generated by attnhw {attnhw.__version__} (attnhw verilog --top engine); parameters:"
    desc = json.loads(paths[0].with_suffix(".json").read_text())
    assert json.loads(second[3:]) == desc["params"] == preset_dict("test-engine")
    assert desc["attnhw_version"] == attnhw.__version__ and desc["top"] == "acme_engine"
    assert str(tmp_path) not in text


def preset_dict(name):
    from attnhw.golden.presets import preset
    return preset(name).as_dict()


def test_run_with_output_projection_writes_b_n_dout(tmp_path, capsys):
    rng = np.random.default_rng(21)
    files = _tensors(tmp_path, rng, (2, 3, 5, 8), (2, 3, 7, 8))
    W, b = rng.standard_normal((6, 24)) * 0.2, rng.standard_normal(6) * 0.1
    np.save(tmp_path / "W.npy", W)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "y.npy"
    code, text, err = _run(capsys, "run", "--q", str(files["q"]), "--k", str(files["k"]),
                           "--v", str(files["v"]), "--out-proj", str(tmp_path / "W.npy"),
                           "--out-bias", str(tmp_path / "b.npy"), "--out", str(out))
    assert code == 0, err
    y = np.load(out)
    q, k, v = (np.load(files[n]) for n in "qkv")
    c = attention_float_natural(q, k, v, 1 / math.sqrt(8), np.zeros((5, 7), dtype=bool))
    exact = np.moveaxis(c, 1, 2).reshape(2, 5, 24) @ W.T + b
    assert y.shape == (2, 5, 6)
    assert np.abs(y - exact).max() < 0.05 * np.abs(exact).max()
    code, _, err = _run(capsys, "run", "--q", str(files["q"]), "--k", str(files["k"]),
                        "--v", str(files["v"]), "--out-proj", str(tmp_path / "b.npy"),
                        "--out", str(tmp_path / "z.npy"))
    assert code == 2 and "--out-proj: W has shape (6,); expected (d_out, H*d = 24)" in err
    assert not (tmp_path / "z.npy").exists()
    code, _, err = _run(capsys, "run", "--q", str(files["q"]), "--k", str(files["k"]),
                        "--v", str(files["v"]), "--out-proj", str(tmp_path / "W.npy"),
                        "--backend", "rtl", "--out", str(tmp_path / "z.npy"))
    assert code == 2 and "--out-proj runs on --backend golden or engine" in err
    assert not (tmp_path / "z.npy").exists()
    # W for 2 heads, q with 3; a NaN in W: one line each, no output file.
    np.save(tmp_path / "W2.npy", W[:, :16])
    W_nan = W.copy()
    W_nan[1, 3] = np.nan
    np.save(tmp_path / "Wnan.npy", W_nan)
    for name, message in (("W2.npy", "expected (d_out, H*d = 24)"), ("Wnan.npy", "contains NaN")):
        code, _, err = _run(capsys, "run", "--q", str(files["q"]), "--k", str(files["k"]),
                            "--v", str(files["v"]), "--out-proj", str(tmp_path / name),
                            "--out", str(tmp_path / "z.npy"))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "z.npy").exists()


def test_run_lanes_need_only_divide_the_tensors_d(tmp_path, capsys):
    """head_dim comes from the tensors (12), so --lanes 12 is valid though it does not
    divide the default head_dim 64."""
    rng = np.random.default_rng(22)
    files = _tensors(tmp_path, rng, (1, 3, 12), (1, 4, 12))
    out = tmp_path / "o.npy"
    code, _, err = _run(capsys, "run", "--q", str(files["q"]), "--k", str(files["k"]),
                        "--v", str(files["v"]), "--lanes", "12", "--out", str(out))
    assert code == 0, err
    assert np.load(out).shape == (1, 3, 12)


def test_a_bug_keeps_its_traceback_a_user_error_is_one_line(monkeypatch, capsys):
    """Only attnhw's own errors (AttnhwError) become one line; a ValueError from a bug
    reaches the caller with its traceback instead of hiding as a one-line message."""
    import attnhw.outputs
    from attnhw.golden.errors import InputError

    def bug(*_args, **_kw):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(attnhw.outputs, "write_verilog", bug)
    with pytest.raises(ValueError, match="could not be broadcast"):
        main(["verilog", "-o", "unused.v"])

    def user_error(*_args, **_kw):
        raise InputError("--name 9x is not a Verilog identifier")

    monkeypatch.setattr(attnhw.outputs, "write_verilog", user_error)
    assert main(["verilog", "-o", "unused.v"]) == 2
    assert capsys.readouterr().err.strip() == \
        "attnhw verilog: error: --name 9x is not a Verilog identifier"
