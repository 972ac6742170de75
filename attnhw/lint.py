"""``verilator --lint-only -Wall`` on the generated Verilog, with documented waivers."""

import re
import subprocess

from attnhw.golden.errors import ToolError
from attnhw.sim.runner import VERILATOR_WAIVERS, setup_verilator

__all__ = ["lint"]


def lint(path, top="attnhw_core", waive=True):
    """Raise ``RuntimeError`` with the first unwaived warning or error. ``waive=False``:
    no command-line waivers (the file may waive them for a part of itself)."""
    setup_verilator()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", top, str(path)]
    cmd += [f"-Wno-{name}" for name in VERILATOR_WAIVERS] if waive else []
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = re.findall(r"^%(?:Warning|Error)[^\n]*", proc.stderr, flags=re.M)
    if proc.returncode or found:
        raise ToolError(f"verilator lint: {found[0] if found else proc.stderr.strip()[:300]}")
