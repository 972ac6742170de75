"""A clean install: the wheel of this repository in a new venv without extras.

Checks what a user who runs ``pip install attnhw`` gets: only ``attnhw`` at the top of
site-packages (golden, hdl and sim live under it), the command line and ``python -m
attnhw``, a NumPy ``attnhw.sdpa`` call equal to this checkout's, the same Verilog from
the CLI and from ``attnhw.hdl``'s components, a one-line error naming the extra that a
simulation needs, and no file written into site-packages by any of it.
"""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import attnhw
from attnhw.golden.presets import preset
from attnhw.hdl.emit import generate_verilog

ROOT = pathlib.Path(__file__).resolve().parent.parent
SDPA = """
import json, sys, numpy as np, attnhw
rng = np.random.default_rng(3)
q, k, v = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 6, 8)), rng.standard_normal((2, 6, 8))
json.dump(attnhw.sdpa(q, k, v, is_causal=True, quant="head").tolist(), sys.stdout)
"""
AMARANTH = """
from amaranth.back import verilog
from attnhw.golden.presets import preset
from attnhw.hdl import AxisEngine
print(verilog.convert(AxisEngine(preset("test-engine")), name="attnhw_engine", emit_src=False),
      end="")
"""


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    wheel = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"),
                  str(ROOT)])
    assert wheel.returncode == 0, wheel.stderr
    assert _run([sys.executable, "-m", "venv", str(tmp / "venv")]).returncode == 0
    bin_ = tmp / "venv" / "bin"
    inst = _run([str(bin_ / "pip"), "install", "-q", *map(str, (tmp / "dist").glob("*.whl"))])
    assert inst.returncode == 0, inst.stderr
    site = pathlib.Path(_run([str(bin_ / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                             ).stdout.strip())
    return bin_, site, tmp


def _files(folder):
    return {p for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_only_attnhw_at_the_top_of_site_packages(venv):
    bin_, site, tmp = venv
    ours = json.loads(_run([str(bin_ / "python"), "-c",
                            "import importlib.metadata as m, json; "
                            "print(json.dumps(sorted({str(f).split('/')[0] "
                            "for f in m.files('attnhw')})))"], cwd=tmp).stdout)
    assert [t for t in ours if not t.endswith(".dist-info") and t != ".."] == ["attnhw"]
    for name in ("golden", "hdl", "sim"):
        assert not (site / name).exists()
        assert (site / "attnhw" / name / "__init__.py").exists()
    assert (site / "attnhw" / "sim" / "formal" / "sby.py").exists()
    assert (site / "attnhw" / "sim" / "models" / "DP16KD.v").exists()


def test_cli_sdpa_and_verilog_from_the_clean_install(venv):
    bin_, site, tmp = venv
    before = _files(site)
    work = tmp / "work"
    work.mkdir()
    version = _run([str(bin_ / "attnhw"), "--version"], cwd=work)
    assert version.stdout.strip() == f"attnhw {attnhw.__version__}"
    help_ = _run([str(bin_ / "python"), "-m", "attnhw", "--help"], cwd=work)
    assert help_.returncode == 0 and "verilog" in help_.stdout

    # The same numbers as this checkout's attnhw.sdpa.
    got = _run([str(bin_ / "python"), "-c", SDPA], cwd=work)
    assert got.returncode == 0, got.stderr
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 6, 8)), rng.standard_normal((2, 6, 8))
    assert np.array_equal(np.array(json.loads(got.stdout)),
                          attnhw.sdpa(q, k, v, is_causal=True, quant="head"))

    # The same Verilog from the CLI, from attnhw.hdl's component, and from this checkout.
    cli = _run([str(bin_ / "attnhw"), "verilog", "--top", "engine", "--preset", "test-engine",
                "-o", "e.v"], cwd=work)
    assert cli.returncode == 0, cli.stderr
    amaranth = _run([str(bin_ / "python"), "-c", AMARANTH], cwd=work)
    assert amaranth.returncode == 0, amaranth.stderr
    expected = generate_verilog(preset("test-engine"), "engine")
    assert (work / "e.v").read_text() == expected == amaranth.stdout

    # A simulation needs the 'sim' extra: a one-line error that says so.
    sim = _run([str(bin_ / "attnhw"), "sim", "--head-dim", "8", "--lanes", "4"], cwd=work)
    assert sim.returncode == 2
    assert sim.stderr.strip().splitlines() == [sim.stderr.strip()]
    assert "pip install 'attnhw[sim]'" in sim.stderr

    assert _files(site) == before           # nothing cached inside the package
