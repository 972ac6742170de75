"""cocotb testbench of the engine's AXI4-Stream top level (runs inside the simulator).

Reads the heads of the job named by ``ATTNHW_JOB`` (``attnhw.sim.engine_job.save_heads``).
Before each head's queries the q driver writes the head's settings through the CSR
port (SCALE, MODE, OFFSET, KEY_LIMIT); K/V beats of later heads flow independently,
so the next head loads while the current one computes. Both inputs get random idle
gaps, the output random backpressure; handshakes are sampled at the falling edge.
Every output word, ``tuser`` (row end) and ``tlast`` (head end) is compared with
``attnhw.golden.engine``; then the output is watched for extra beats (drain check), and
STATUS is read through the CSR port (the bits the job's misplaced ``tlast`` flags
raise), cleared by a write and read again. The summary (cycles, stalls, simulator
speed) goes to ``ATTNHW_RESULT``.
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from attnhw.hdl.axis_engine import CSR, STATUS_BITS

from .engine_job import expected_rows, kv_beats, load_heads, q_beats, rows_from_beats
from .payload import unpack
from .proj_job import project_passes

#: Cycles the output is watched, tready high, after the last expected beat.
DRAIN_CYCLES = 200


class _AxisSource:
    """AXI4-Stream master: ``(tdata, tuser, tlast)`` beats with random idle gaps."""

    def __init__(self, dut, prefix, beats, rng, gap):
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tlast = getattr(dut, f"{prefix}_tlast")
        self.tuser = getattr(dut, f"{prefix}_tuser", None)
        self.beats, self.rng, self.gap = beats, rng, gap
        self.index = 0
        self.tvalid.value = 0

    def sample(self):
        return bool(int(self.tvalid.value) and int(self.tready.value))

    def advance(self, fired, may_show=None):
        """After the rising edge: the next beat, a gap, or (``may_show(index)`` false)
        nothing yet. A beat on offer stays until taken."""
        if fired:
            self.index += 1
        if fired or not int(self.tvalid.value):
            show = (self.index < len(self.beats) and (may_show is None or may_show(self.index))
                    and (self.gap == 0 or self.rng.random() >= self.gap))
            self.tvalid.value = int(show)
            if show:
                data, user, last = self.beats[self.index]
                self.tdata.value = data
                self.tlast.value = last
                if self.tuser is not None:
                    self.tuser.value = user


def _split(words, data_bits):
    """Packed layout words (data, then user/last flags) as (tdata, tuser, tlast)."""
    mask = (1 << data_bits) - 1
    return [(w & mask, (w >> data_bits) & 1, (w >> (data_bits + 1)) & 1) for w in words]


async def _csr_read(dut, addr):
    dut.csr_addr.value = addr
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    return int(dut.csr_rdata.value)


# The watchdog is the cycle budget below; the timeout (simulated time, 10^9 cycles of
# 10 ns, ~1000 times a bench head at N = 1024) is a backstop behind it.
@cocotb.test(timeout_time=10, timeout_unit="sec")
async def run_engine(dut):
    job_path = os.environ["ATTNHW_JOB"]
    p, heads, opts = load_heads(job_path)
    rng = np.random.default_rng(opts["seed"])
    lane_bits = p.lanes * p.data_width
    kv = _split(kv_beats(p, heads), 2 * lane_bits)
    # q beats ({q, last}: no tuser) and the head each belongs to.
    q = [(w & ((1 << lane_bits) - 1), 0, w >> lane_bits) for w, _ in q_beats(p, heads)]
    # Misplaced tlast flags: ignored by the engine (outputs unchanged), flagged in STATUS.
    for beats, flips in ((kv, opts["kv_last_flips"]), (q, opts["q_last_flips"])):
        for i in flips:
            beats[i] = (beats[i][0], beats[i][1], 1)
    status_expected = (int(bool(opts["kv_last_flips"])) << STATUS_BITS.index("err_last_misplaced")
                       | int(bool(opts["q_last_flips"])) << STATUS_BITS.index("err_q_last_misplaced"))
    q_head = np.repeat(np.arange(len(heads)), [len(h["q"]) * p.slices for h in heads]).tolist()
    expect = expected_rows(p, heads)
    n_out = len(expect) * p.slices
    op, out_bits, load = p.out_proj, p.lanes * p.out_width, []
    if op:
        # With the output projection: its integers are loaded first (the queries wait
        # for them), and the output is the projection's beats.
        from attnhw.golden.out_proj import load_words
        from attnhw.hdl.out_proj import y_layout
        words = load_words(*opts["projection"], op)
        load = [(int(w), 0, int(i == len(words) - 1)) for i, w in enumerate(words)]
        y_expect = project_passes(expect, heads, opts["projection"], op)
        out_bits, n_out = op.lanes * p.data_width, len(y_expect)
        y_words = [y_layout(op).const(b).as_value().value for b in y_expect]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.csr_we.value = 0
    dut.csr_addr.value = 0
    dut.csr_wdata.value = 0
    dut.m_axis_o_tready.value = 0
    dut.s_axis_kv_tvalid.value = 0
    dut.s_axis_q_tvalid.value = 0
    if op:
        dut.s_axis_w_tvalid.value = 0
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
    ident = {name: await _csr_read(dut, CSR[name]) for name in ("SHAPE", "MAX_SEQ_LEN", "PARALLEL")}
    ident_expected = {"SHAPE": p.head_dim | p.data_width << 16, "MAX_SEQ_LEN": p.max_seq_len,
                      "PARALLEL": p.lanes | p.block << 16}
    await RisingEdge(dut.clk)       # the cycle loop starts just after a rising edge

    kv_src = _AxisSource(dut, "s_axis_kv", kv, rng, opts["gap"])
    q_src = _AxisSource(dut, "s_axis_q", q, rng, opts["gap"])
    w_src = _AxisSource(dut, "s_axis_w", load, rng, opts["gap"]) if op else None
    o_words, o_cycles, protocol_errors = [], [], []
    pending_csr = []       # CSR writes (addr, value) to make before the next q beat
    csr_head = -1          # the head whose settings the CSRs hold

    def may_show(index):
        """A head's first q beat waits for its settings: the CSRs are sampled at each
        query's final beat, so they are written once the previous head's are all taken,
        then one idle cycle lets the last write land."""
        nonlocal csr_head
        if w_src is not None and w_src.index < len(load):
            return False
        if q_head[index] != csr_head:
            csr_head = q_head[index]
            h = heads[csr_head]
            pending_csr.extend([(CSR["SCALE"], h["scale"]), (CSR["MODE"], int(h["causal"])),
                                (CSR["OFFSET"], h["offset"] & 0xFFFFFFFF),
                                (CSR["KEY_LIMIT"], h["key_limit"]), None])
        return not pending_csr

    held = None
    cycle, first_in, kv_last_cycle, q_fired = 0, None, None, False
    # Cycle budget: every head's K/V load and ceil(Nq / block) passes over its keys
    # (the engine's floor), plus the row tails, times a margin for gaps and stalls.
    passes = sum(-(-len(h["q"]) // p.block) * len(h["k"]) * p.slices for h in heads)
    budget = 4 * passes + 40 * (len(kv) + len(q) * (p.data_width + 4) + 1000)
    budget = int(budget / max(1e-3, 1 - max(opts["gap"], opts["stall"])))
    started = time.time()
    kv_src.advance(False)
    if w_src is not None:
        w_src.advance(False)
    while len(o_words) < n_out and cycle < budget:
        write = pending_csr.pop(0) if pending_csr else None
        dut.csr_we.value = int(write is not None)
        if write is not None:
            dut.csr_addr.value, dut.csr_wdata.value = write
        q_src.advance(q_fired, may_show)
        await FallingEdge(dut.clk)
        o_valid = int(dut.m_axis_o_tvalid.value)
        beat = None
        if o_valid:
            beat = (int(dut.m_axis_o_tdata.value) | int(dut.m_axis_o_tuser.value) << out_bits
                    | int(dut.m_axis_o_tlast.value) << (out_bits + 1))
        if held is not None and beat != held:
            protocol_errors.append(f"cycle {cycle}: output beat changed or dropped before tready")
        kv_fired, q_fired = kv_src.sample(), q_src.sample()
        w_fired = w_src is not None and w_src.sample()
        if (kv_fired or q_fired) and first_in is None:
            first_in = cycle
        if kv_fired and kv_src.index == len(kv) - 1:
            kv_last_cycle = cycle
        o_fired = bool(o_valid and int(dut.m_axis_o_tready.value))
        held = beat if o_valid and not o_fired else None
        if o_fired:
            o_words.append(beat)
            o_cycles.append(cycle)
        await RisingEdge(dut.clk)
        cycle += 1
        kv_src.advance(kv_fired)
        if w_src is not None:
            w_src.advance(w_fired)
        dut.m_axis_o_tready.value = int(opts["stall"] == 0 or rng.random() >= opts["stall"])
    wall = time.time() - started

    # Drain: nothing more may come out once every row has (tready held high).
    dut.m_axis_o_tready.value = 1
    dut.csr_we.value = 0
    extra_beats = 0
    for _ in range(DRAIN_CYCLES):
        await FallingEdge(dut.clk)
        extra_beats += int(dut.m_axis_o_tvalid.value)
        await RisingEdge(dut.clk)
    # STATUS through the CSR port: the bits the faults raised, then cleared by a write.
    await FallingEdge(dut.clk)
    status = await _csr_read(dut, CSR["STATUS"])
    dut.csr_addr.value, dut.csr_wdata.value, dut.csr_we.value = CSR["STATUS"], 0, 1
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.csr_we.value = 0
    status_cleared = await _csr_read(dut, CSR["STATUS"])
    if op:
        # Every output beat, data and flags, against the golden projection's.
        mask = (1 << out_bits) - 1
        n = min(len(o_words), n_out)
        mismatches = sum(a & mask != b & mask for a, b in zip(o_words, y_words))
        flags_ok = len(o_words) == n_out and all(a >> out_bits == b >> out_bits
                                                 for a, b in zip(o_words, y_words))
        rows = unpack(y_layout(op), o_words)["y"].reshape(-1, op.d_out)
        expect = np.array([b["y"] for b in y_expect]).reshape(-1, op.d_out)
        words_compared, rows_out = n * op.lanes, n // op.groups
    else:
        rows, row_last, last = rows_from_beats(p, o_words)
        n = min(len(rows), len(expect))
        mismatches = int(np.sum(rows[:n] != expect[:n]))
        ends = np.cumsum([len(h["q"]) * p.slices for h in heads]) - 1
        flags_ok = (len(o_words) == n_out
                    and np.array_equal(row_last, np.tile(np.arange(p.slices) == p.slices - 1, n))
                    and np.array_equal(np.nonzero(last)[0], ends))
        words_compared, rows_out = n * p.head_dim, n
    summary = {
        "heads": len(heads), "rows_expected": int(len(expect)), "rows_out": int(rows_out),
        "words_compared": int(words_compared), "mismatches": int(mismatches),
        "flags_ok": bool(flags_ok), "protocol_errors": protocol_errors[:10],
        "extra_output_beats": extra_beats, "status": status,
        "status_expected": status_expected, "status_after_clear": status_cleared,
        "ident": ident, "ident_expected": ident_expected,
        "first_input_cycle": first_in, "kv_last_cycle": kv_last_cycle,
        "last_output_cycle": o_cycles[-1] if o_cycles else None,
        "cycles": (o_cycles[-1] - first_in + 1) if o_cycles else None,
        "sim_cycles": cycle, "wall_seconds": round(wall, 3),
        "sim_cycles_per_second": round(cycle / wall, 1) if wall > 0 else None,
    }
    np.savez(os.environ["ATTNHW_RESULT"] + ".npz", o=rows, expect=expect)
    with open(os.environ["ATTNHW_RESULT"], "w") as f:
        json.dump(summary, f, indent=1)
    assert len(o_words) == n_out, f"{len(o_words)} of {n_out} output beats came out"
    assert not protocol_errors, protocol_errors[0]
    assert mismatches == 0, f"{mismatches} output words differ from the golden model"
    assert flags_ok, "wrong tuser (row end) or tlast (head end) flags on the output"
    assert ident == ident_expected, f"identification registers {ident}"
    assert extra_beats == 0, f"{extra_beats} output beats after the last row"
    assert status == status_expected, f"STATUS {status:#x}, expected {status_expected:#x}"
    assert status_cleared == 0, f"STATUS {status_cleared:#x} after a clearing write"
