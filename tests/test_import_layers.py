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


def test_a_golden_module_importing_the_gateware_breaks_it(staged):
    model = staged / "attnhw" / "golden" / "fixed.py"
    model.write_text(model.read_text() + "\nfrom attnhw.hdl import layouts  # noqa\n")
    result = lint_imports(staged)
    assert result.returncode != 0
    assert "attnhw.golden.fixed -> attnhw.hdl.layouts" in result.stdout


def test_the_gateware_reaching_the_tools_through_the_package_breaks_it(staged):
    # The package's __init__ imports sdpa, so `from attnhw import x` inside hdl/ is an
    # import of the tools (and of the simulator) by the gateware.
    emitter = staged / "attnhw" / "hdl" / "layouts.py"
    emitter.write_text(emitter.read_text() + "\nfrom attnhw import __version__  # noqa\n")
    result = lint_imports(staged)
    assert result.returncode != 0
    assert "attnhw.hdl.layouts -> attnhw" in result.stdout


def test_a_new_tool_module_must_declare_its_layer(staged):
    (staged / "attnhw" / "undeclared_tool.py").write_text("X = 1\n")
    result = lint_imports(staged)
    assert result.returncode != 0
    assert "undeclared_tool" in result.stdout
