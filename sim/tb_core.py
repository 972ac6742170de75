"""cocotb testbench of the whole core (runs inside the simulator process).

Reads the job named by ``ATTNHW_JOB`` and writes its findings to ``ATTNHW_RESULT``
(JSON) and the output rows to ``ATTNHW_RESULT`` with ``.npz``. One coroutine runs the
cycle loop: the inputs are driven with random gaps between beats (valid never drops
before its beat is taken), the output with random backpressure; handshakes are
sampled at the falling edge, when everything has settled. The model (golden)
consumes the beats the monitors saw accepted, and every output word is compared.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from hdl.layouts import kv_layout

from .jobs import expected_from_beats, input_beats, load_job, outputs_from_beats


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

    def advance(self, fired):
        """After the rising edge: present the next beat (or a gap)."""
        if fired:
            self.index += 1
        if fired or not int(self.valid.value):
            show = self.index < len(self.words) and self.rng.random() >= self.gap
            self.valid.value = int(show)
            if show:
                self.payload.value = self.words[self.index]


@cocotb.test()
async def run_job(dut):
    job = load_job(os.environ["ATTNHW_JOB"])
    result_path = os.environ["ATTNHW_RESULT"]
    p = job["params"]
    rng = np.random.default_rng(job["seed"])
    q_words, kv_words = input_beats(job)
    n_out = len(job["q"]) * p.slices
    last_bit = kv_layout(p)["last"].offset

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.o__ready.value = 0
    q_src = _Source(dut, "q", q_words, rng, job["gap"])
    kv_src = _Source(dut, "kv", kv_words, rng, job["gap"])
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    q_src.advance(False)
    kv_src.advance(False)

    progress_path = os.environ.get("ATTNHW_PROGRESS")
    progress_every = p.slices * max(1, len(job["q"]) // 20)
    o_words, o_cycles, protocol_errors = [], [], []
    kv_cycles, kv_last_cycles = [], []
    held = None            # output beat offered but not taken: must stay put
    cycle = first_in = 0
    budget = 50 * (len(kv_words) + len(q_words) + n_out * (p.data_width + 3) + 200)
    budget = int(budget / max(1e-3, 1 - max(job["gap"], job["stall"])))
    while len(o_words) < n_out and cycle < budget:
        await FallingEdge(dut.clk)
        o_valid = int(dut.o__valid.value)
        o_payload = int(dut.o__payload.value) if o_valid else None
        if held is not None and (not o_valid or o_payload != held):
            protocol_errors.append(f"cycle {cycle}: output beat changed or dropped before ready")
        q_fired, kv_fired = q_src.sample(), kv_src.sample()
        if (q_fired or kv_fired) and not first_in:
            first_in = cycle
        if kv_fired:
            kv_cycles.append(cycle)
            if (kv_src.accepted[-1] >> last_bit) & 1:
                kv_last_cycles.append(cycle)
        o_fired = bool(o_valid and int(dut.o__ready.value))
        held = o_payload if o_valid and not o_fired else None
        if o_fired:
            o_words.append(o_payload)
            o_cycles.append(cycle)
            if progress_path and len(o_words) % progress_every == 0:
                with open(progress_path, "w") as f:
                    f.write(f"{len(o_words) // p.slices} {len(job['q'])} {cycle}")
        await RisingEdge(dut.clk)
        cycle += 1
        q_src.advance(q_fired)
        kv_src.advance(kv_fired)
        dut.o__ready.value = int(rng.random() >= job["stall"])

    got, last = outputs_from_beats(p, o_words)
    expect = expected_from_beats(p, q_src.accepted, kv_src.accepted)
    rows = min(len(got), len(expect))
    mismatches = int(np.sum(got[:rows] != expect[:rows]))
    want_last = np.tile(np.arange(p.slices) == p.slices - 1, rows).astype(int)
    summary = {
        "queries": int(len(job["q"])), "rows_out": int(len(got)),
        "words_compared": int(rows * p.head_dim), "mismatches": mismatches,
        "missing_rows": int(len(job["q"]) - len(got)),
        "last_flag_errors": int(np.sum(last[:len(want_last)] != want_last[:len(last)])),
        "protocol_errors": protocol_errors[:10],
        "first_input_cycle": int(first_in),
        "last_output_cycle": int(o_cycles[-1]) if o_cycles else None,
        "row_done_cycles": [int(c) for c in np.asarray(o_cycles)[p.slices - 1::p.slices]],
        "cycles": int(o_cycles[-1] - first_in + 1) if o_cycles else None,
        "kv_beats": len(kv_words),
        # Cycles between the first and last key beat in which no key beat moved.
        "kv_idle_cycles": int(kv_cycles[-1] - kv_cycles[0] + 1 - len(kv_cycles)) if kv_cycles else 0,
        # Per query: cycles from its final key beat to its final output beat.
        "latencies": [int(o - k) for o, k in zip(np.asarray(o_cycles)[p.slices - 1::p.slices],
                                                 kv_last_cycles)],
    }
    np.savez(result_path + ".npz", o=got, expect=expect)
    with open(result_path, "w") as f:
        json.dump(summary, f, indent=1)
    assert summary["missing_rows"] == 0, f"{summary['missing_rows']} rows never came out"
    assert not protocol_errors, protocol_errors[0]
    assert summary["last_flag_errors"] == 0, "wrong `last` flags on the output"
    assert mismatches == 0, f"{mismatches} output words differ from the golden model"
