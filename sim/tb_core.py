"""cocotb testbench of the whole core (runs inside the simulator process).

Reads the job named by ``ATTNHW_JOB`` and writes its findings to ``ATTNHW_RESULT``
(JSON) and the output rows to ``ATTNHW_RESULT`` with ``.npz``. One coroutine runs the
cycle loop: the inputs are driven with random gaps between beats (valid never drops
before its beat is taken), the output with random backpressure; handshakes are
sampled at the falling edge, when everything has settled. The model (golden)
consumes the beats the monitors saw accepted, and every output word is compared.

Faults a job may carry (``attnhw.sim.jobs.with_faults``): toggled ``last`` bits, windows of
held backpressure or starved inputs, and a prelude job cut short by a reset, after
which the core must be idle and the job must come out exactly as if alone.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from attnhw.golden.framing import split_queries
from attnhw.hdl.layouts import kv_layout

from .jobs import RESET_PORTS, expected_from_beats, input_beats, load_job, outputs_from_beats

RESET_CYCLES = 3
IDLE_CHECK_CYCLES = 16


def _in_windows(windows, cycle):
    return bool(np.any((windows[:, 0] <= cycle) & (cycle < windows[:, 0] + windows[:, 1])))


class _Source:
    """Valid/ready source: one beat at a time, random idle gaps between beats."""

    def __init__(self, dut, name, words, rng, gap):
        self.valid = getattr(dut, f"{name}__valid")
        self.payload = getattr(dut, f"{name}__payload")
        self.ready = getattr(dut, f"{name}__ready")
        self.words, self.rng, self.gap = words, rng, gap
        self.index = 0
        self.accepted = []
        self.valid.value = 0

    def sample(self):
        """At the falling edge: will the beat on the bus be taken at the next edge?"""
        if int(self.valid.value) and int(self.ready.value):
            self.accepted.append(int(self.payload.value))
            return True
        return False

    def advance(self, fired, starved=False):
        """After the rising edge: present the next beat (or a gap). A beat already
        offered stays offered, starved or not."""
        if fired:
            self.index += 1
        if fired or not int(self.valid.value):
            show = (not starved and self.index < len(self.words)
                    and self.rng.random() >= self.gap)
            self.valid.value = int(show)
            if show:
                self.payload.value = self.words[self.index]


class _Phase:
    """One stretch of the cycle loop: drives sources, back-pressures and checks ``o``."""

    def __init__(self, dut, job, rng, q_words, kv_words, windows=True):
        self.dut, self.rng, self.stall = dut, rng, job["stall"]
        self.q = _Source(dut, "q", q_words, rng, job["gap"])
        self.kv = _Source(dut, "kv", kv_words, rng, job["gap"])
        zero = np.zeros((0, 2), dtype=np.int64)
        self.o_hold = job["o_hold"] if windows else zero
        self.starve = job["starve"] if windows else zero
        self.o_words, self.o_cycles, self.protocol_errors = [], [], []
        self.kv_cycles, self.kv_last_cycles = [], []
        self.held = None           # output beat offered but not taken: must stay put
        self.cycle = self.first_in = 0

    def start(self):
        self.q.advance(False, _in_windows(self.starve, 0))
        self.kv.advance(False, _in_windows(self.starve, 0))

    async def step(self, last_bit, on_output=None):
        """One clock cycle: sample at the falling edge, drive after the rising edge."""
        dut = self.dut
        await FallingEdge(dut.clk)
        o_valid = int(dut.o__valid.value)
        o_payload = int(dut.o__payload.value) if o_valid else None
        if self.held is not None and (not o_valid or o_payload != self.held):
            self.protocol_errors.append(
                f"cycle {self.cycle}: output beat changed or dropped before ready")
        q_fired, kv_fired = self.q.sample(), self.kv.sample()
        if (q_fired or kv_fired) and not self.first_in:
            self.first_in = self.cycle
        if kv_fired:
            self.kv_cycles.append(self.cycle)
            if (self.kv.accepted[-1] >> last_bit) & 1:
                self.kv_last_cycles.append(self.cycle)
        o_fired = bool(o_valid and int(dut.o__ready.value))
        self.held = o_payload if o_valid and not o_fired else None
        if o_fired:
            self.o_words.append(o_payload)
            self.o_cycles.append(self.cycle)
            if on_output:
                on_output(len(self.o_words), self.cycle)
        await RisingEdge(dut.clk)
        self.cycle += 1
        starved = _in_windows(self.starve, self.cycle)
        self.q.advance(q_fired, starved)
        self.kv.advance(kv_fired, starved)
        hold = _in_windows(self.o_hold, self.cycle)
        dut.o__ready.value = int(not hold and self.rng.random() >= self.stall)


async def _reset(dut):
    dut.rst.value = 1
    dut.q__valid.value = 0
    dut.kv__valid.value = 0
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def _idle_errors(dut):
    """After reset with no input: no output beat, no error flag, the q port ready."""
    errors = []
    dut.o__ready.value = 1
    for cycle in range(IDLE_CHECK_CYCLES):
        await FallingEdge(dut.clk)
        state = {name: int(getattr(dut, name).value) for name in
                 ("o__valid", "q__ready", "err_last_misplaced", "err_too_many_keys")}
        if state != {"o__valid": 0, "q__ready": 1, "err_last_misplaced": 0,
                     "err_too_many_keys": 0}:
            errors.append(f"cycle {cycle} after reset: {state}")
    await RisingEdge(dut.clk)
    return errors


async def _prelude(dut, job, rng, last_bit):
    """Run the prelude until the reset point, reset; returns what the reset cut off."""
    phase = _Phase(dut, job, rng, *input_beats(job, "pre_"), windows=False)
    phase.start()
    port = RESET_PORTS[job["reset_port"]]
    count = {"q": lambda: len(phase.q.accepted), "kv": lambda: len(phase.kv.accepted),
             "o": lambda: len(phase.o_words)}[port]
    budget = 100_000
    while count() < job["reset_count"] and phase.cycle < budget:
        await phase.step(last_bit)
    await _reset(dut)
    return {"port": port, "beats_before_reset": count(), "cycle": phase.cycle,
            "idle_errors": await _idle_errors(dut)}


# The watchdog is each phase's cycle budget; the timeout (simulated time, 10^9 cycles of
# 10 ns, far beyond the longest soak or bench job) is a backstop behind it.
@cocotb.test(timeout_time=10, timeout_unit="sec")
async def run_job(dut):
    job = load_job(os.environ["ATTNHW_JOB"])
    result_path = os.environ["ATTNHW_RESULT"]
    p = job["params"]
    rng = np.random.default_rng(job["seed"])
    q_words, kv_words = input_beats(job)
    last_bit = kv_layout(p)["last"].offset
    # Rows the job can produce: queries the kv stream closes (attnhw.golden.framing).
    bounds, _ = split_queries(p, [(w >> last_bit) & 1 for w in kv_words])
    n_out = min(len(job["q"]), len(bounds)) * p.slices

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.clear_errors.value = 0
    dut.o__ready.value = 0
    dut.q__valid.value = 0
    dut.kv__valid.value = 0
    await _reset(dut)
    reset = await _prelude(dut, job, rng, last_bit) if "pre_q" in job else None

    phase = _Phase(dut, job, rng, q_words, kv_words)
    phase.start()
    progress_path = os.environ.get("ATTNHW_PROGRESS")
    progress_every = p.slices * max(1, len(job["q"]) // 20)

    def report(words, cycle):
        if progress_path and words % progress_every == 0:
            with open(progress_path, "w") as f:
                f.write(f"{words // p.slices} {len(job['q'])} {cycle}")

    windows = int(np.sum(job["o_hold"][:, 1]) + np.sum(job["starve"][:, 1]))
    budget = 50 * (len(kv_words) + len(q_words) + n_out * (p.data_width + 3) + 200)
    budget = int(budget / max(1e-3, 1 - max(job["gap"], job["stall"]))) + windows
    while len(phase.o_words) < n_out and phase.cycle < budget:
        await phase.step(last_bit, report)
    # Drain: with the output always ready, no further beat may appear.
    drain_until = phase.cycle + 4 * (p.slices * (p.data_width + 2) + 64)
    words_done = len(phase.o_words)
    phase.stall = 0.0
    while phase.cycle < drain_until:
        await phase.step(last_bit)
    extra = phase.o_words[words_done:]
    o_words, o_cycles = phase.o_words[:words_done], phase.o_cycles[:words_done]

    got, last = outputs_from_beats(p, o_words)
    expect = expected_from_beats(p, phase.q.accepted, phase.kv.accepted)
    rows = min(len(got), len(expect))
    mismatches = int(np.sum(got[:rows] != expect[:rows]))
    want_last = np.tile(np.arange(p.slices) == p.slices - 1, rows).astype(int)
    _, framing_errors = split_queries(
        p, [(w >> last_bit) & 1 for w in phase.kv.accepted])
    flags = {name: int(getattr(dut, f"err_{name}").value) for name in framing_errors}
    kv_cycles = phase.kv_cycles
    summary = {
        "queries": int(len(job["q"])), "rows_expected": n_out // p.slices,
        "rows_out": int(len(got)), "extra_output_beats": len(extra),
        "words_compared": int(rows * p.head_dim), "mismatches": mismatches,
        "missing_rows": int(n_out // p.slices - len(got)),
        "last_flag_errors": int(np.sum(last[:len(want_last)] != want_last[:len(last)])),
        "protocol_errors": phase.protocol_errors[:10],
        "error_flags": flags,
        "error_flags_expected": {k: int(v > 0) for k, v in framing_errors.items()},
        "reset": reset,
        "first_input_cycle": int(phase.first_in),
        "last_output_cycle": int(o_cycles[-1]) if o_cycles else None,
        "row_done_cycles": [int(c) for c in np.asarray(o_cycles)[p.slices - 1::p.slices]],
        "cycles": int(o_cycles[-1] - phase.first_in + 1) if o_cycles else None,
        "kv_beats": len(kv_words),
        # Cycles between the first and last key beat in which no key beat moved.
        "kv_idle_cycles": int(kv_cycles[-1] - kv_cycles[0] + 1 - len(kv_cycles)) if kv_cycles else 0,
        # Per query: cycles from its final key beat to its final output beat.
        "latencies": [int(o - k) for o, k in zip(np.asarray(o_cycles)[p.slices - 1::p.slices],
                                                 phase.kv_last_cycles)],
    }
    np.savez(result_path + ".npz", o=got, expect=expect)
    with open(result_path, "w") as f:
        json.dump(summary, f, indent=1)
    assert summary["missing_rows"] == 0, f"{summary['missing_rows']} rows never came out"
    assert not extra, f"{len(extra)} output beats more than the job has rows for"
    assert not phase.protocol_errors, phase.protocol_errors[0]
    assert summary["last_flag_errors"] == 0, "wrong `last` flags on the output"
    assert mismatches == 0, f"{mismatches} output words differ from the golden model"
    assert flags == summary["error_flags_expected"], f"error flags {flags}"
    assert not (reset and reset["idle_errors"]), reset and reset["idle_errors"][0]
