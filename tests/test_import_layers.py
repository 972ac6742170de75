"""Imports flow one way, golden -> hdl -> sim -> tools: import-linter's contract in
pyproject.toml holds, and a wrong-way import breaks it.

The repository keeps golden/, hdl/ and sim/ beside attnhw/ and maps them into the package
(``package-dir``), which import-linter's graph builder does not follow; so the package is
laid out as installed (attnhw/golden, attnhw/hdl, attnhw/sim) in a temporary folder, and
import-linter reads that copy.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def stage_package(dest: Path) -> Path:
    """Copy the sources to ``dest`` in the installed layout; return the package folder."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = setuptools["package-dir"]
    for package in setuptools["packages"]:
        parent = next((p for p in mapped if package == p or package.startswith(p + ".")), None)
        if parent is not None:
            source = ROOT / mapped[parent] / Path(*package[len(parent):].split(".")[1:])
        else:
            source = ROOT / Path(*package.split("."))
        target = dest / Path(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for module in source.glob("*.py"):
            shutil.copy(module, target / module.name)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest / "attnhw"


def lint_imports(staged: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(staged))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(staged / "pyproject.toml")],
                          cwd=staged, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def staged(tmp_path):
    stage_package(tmp_path)
    return tmp_path


def test_the_contract_holds(staged):
    result = lint_imports(staged)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


# (module changed, line appended, what lint-imports names). The package's __init__
# imports sdpa, so `from attnhw import x` inside hdl/ imports the tools and the simulator.
WRONG_WAY = [
    ("golden/fixed.py", "from attnhw.hdl import layouts", "attnhw.golden.fixed -> attnhw.hdl.layouts"),
    ("hdl/layouts.py", "from attnhw import __version__", "attnhw.hdl.layouts -> attnhw"),
    ("undeclared_tool.py", "X = 1", "undeclared_tool"),      # a module of no layer
]


@pytest.mark.parametrize("module, line, named", WRONG_WAY, ids=["golden-imports-hdl",
                                                                "hdl-imports-the-package",
                                                                "undeclared-module"])
def test_a_wrong_way_import_breaks_it(staged, module, line, named):
    path = staged / "attnhw" / module
    path.write_text((path.read_text() if path.exists() else "") + f"\n{line}  # noqa\n")
    result = lint_imports(staged)
    assert result.returncode != 0
    assert named in result.stdout
