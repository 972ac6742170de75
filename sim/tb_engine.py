"""cocotb testbench of the engine's AXI4-Stream top level (runs inside the simulator).

Reads the heads of the job named by ``ATTNHW_JOB`` (``attnhw.sim.engine_job.save_heads``).
Every AXI4-Stream port is driven or received by cocotbext-axi: an ``AxiStreamSource``
per input (kv, q and, with the output projection, w), an ``AxiStreamSink`` on the
output, each with a random pause generator (input gaps, output backpressure). Before
each head's queries the q driver waits for the previous head's to be taken and writes
the head's settings through the CSR port (SCALE, MODE, OFFSET, KEY_LIMIT, GROUP_ROWS); K/V beats of
later heads flow independently, so the next head loads while the current one computes.
Every output word, ``tuser`` (row end) and ``tlast`` (head end) is compared with
``attnhw.golden.engine``; an output beat that changes or goes before ``tready`` is a
protocol error; the output is then watched for extra beats (drain check), and STATUS
is read through the CSR port (the bits the job's misplaced ``tlast`` flags raise),
cleared by a write and read again. A cycle budget is the watchdog. The summary
(cycles, stalls, simulator speed) goes to ``ATTNHW_RESULT``.
"""

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from attnhw.hdl.axis_engine import CSR, STATUS_BITS

from .cocotb_util import output_count_error, pauses
from .engine_job import expected_rows, kv_beats, load_heads, q_beats, rows_from_beats
from .payload import unpack
from .proj_job import project_passes

#: Cycles the output is watched, tready high, after the last expected beat.
DRAIN_CYCLES = 200


def _split(words, data_bits):
    """Packed layout words (data, then user/last flags) as (tdata, tuser, tlast)."""
    mask = (1 << data_bits) - 1
    return [(w & mask, (w >> data_bits) & 1, (w >> (data_bits + 1)) & 1) for w in words]


def _frames(beats):
    """``(tdata, tuser, tlast)`` beats as AXI4-Stream frames, one ending at each
    ``tlast`` (a misplaced ``tlast`` ends a frame early)."""
    frames, data, user = [], [], []
    for d, u, last in beats:
        data.append(d)
        user.append(u)
        if last:
            frames.append(AxiStreamFrame(data, tuser=user))
            data, user = [], []
    assert not data, "a stream's final beat carries tlast"
    return frames


def _stream(cls, dut, prefix, rng, prob):
    port = cls(AxiStreamBus.from_prefix(dut, prefix), dut.clk, dut.rst,
               byte_lanes=1)   # a beat is one word of the port's width
    port.log.setLevel("WARNING")
    if prob:
        port.set_pause_generator(pauses(rng, prob))
    return port


async def _csr_read(dut, addr):
    dut.csr_addr.value = addr
    await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    return int(dut.csr_rdata.value)


async def _csr_write(dut, addr, value):
    dut.csr_addr.value, dut.csr_wdata.value, dut.csr_we.value = addr, value, 1
    await RisingEdge(dut.clk)
    dut.csr_we.value = 0


class _Handshakes:
    """Counts cycles and samples every port's handshakes at the rising edge, as the
    cocotbext-axi ports do: when the first input beat and the last K/V beat went in,
    when each output beat came out, and whether an offered output beat changed or
    went before ``tready``."""

    def __init__(self, dut):
        self.dut, self.cycle = dut, 0
        self.first_in = self.kv_last = None
        self.kv_beats, self.o_cycles, self.protocol_errors = 0, [], []

    async def run(self):
        d, held = self.dut, None
        o = (d.m_axis_o_tvalid, d.m_axis_o_tready, d.m_axis_o_tdata, d.m_axis_o_tuser,
             d.m_axis_o_tlast)
        while True:
            await RisingEdge(d.clk)
            kv = d.s_axis_kv_tvalid.value and d.s_axis_kv_tready.value
            q = d.s_axis_q_tvalid.value and d.s_axis_q_tready.value
            if (kv or q) and self.first_in is None:
                self.first_in = self.cycle
            if kv:
                self.kv_beats += 1
                self.kv_last = self.cycle
            valid = bool(o[0].value)
            beat = (int(o[2].value), int(o[3].value), int(o[4].value)) if valid else None
            if held is not None and beat != held:
                self.protocol_errors.append(
                    f"cycle {self.cycle}: output beat changed or dropped before tready")
            fired = valid and bool(o[1].value)
            held = beat if valid and not fired else None
            if fired:
                self.o_cycles.append(self.cycle)
            self.cycle += 1


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
    head_ends = np.cumsum([len(h["q"]) * p.slices for h in heads])
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
    kv_src = _stream(AxiStreamSource, dut, "s_axis_kv", rng, opts["gap"])
    q_src = _stream(AxiStreamSource, dut, "s_axis_q", rng, opts["gap"])
    w_src = _stream(AxiStreamSource, dut, "s_axis_w", rng, opts["gap"]) if op else None
    o_sink = _stream(AxiStreamSink, dut, "m_axis_o", rng, opts["stall"])
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
    ident = {name: await _csr_read(dut, CSR[name]) for name in ("SHAPE", "MAX_SEQ_LEN", "PARALLEL")}
    ident_expected = {"SHAPE": p.head_dim | p.data_width << 16, "MAX_SEQ_LEN": p.max_seq_len,
                      "PARALLEL": p.lanes | p.block << 16}
    await RisingEdge(dut.clk)

    seen = _Handshakes(dut)
    cocotb.start_soon(seen.run())
    for frame in _frames(kv):
        kv_src.send_nowait(frame)
    if w_src is not None:
        for frame in _frames(load):
            w_src.send_nowait(frame)

    async def drive_queries():
        """Each head's q beats once its settings are in: the CSRs are sampled at each
        query's final beat, so they are written once the previous head's beats are all
        taken (and the projection's load, if any), then one idle cycle lets the last
        write land."""
        start = 0
        for h, end in zip(heads, head_ends):
            await q_src.wait()
            if w_src is not None:
                await w_src.wait()
            for name, value in (("SCALE", h["scale"]), ("MODE", int(h["causal"])),
                                ("OFFSET", h["offset"] & 0xFFFFFFFF),
                                ("KEY_LIMIT", h["key_limit"]),
                                ("GROUP_ROWS", h["group_rows"])):
                await _csr_write(dut, CSR[name], value)
            await RisingEdge(dut.clk)
            for frame in _frames(q[start:end]):
                await q_src.send(frame)
            start = end
    cocotb.start_soon(drive_queries())

    # Cycle budget: every head's K/V load and ceil(Nq / block) passes over its keys
    # (the engine's floor), plus the row tails, times a margin for gaps and stalls.
    passes = sum(-(-len(h["q"]) // p.block) * len(h["k"]) * p.slices for h in heads)
    budget = 4 * passes + 40 * (len(kv) + len(q) * (p.data_width + 4) + 1000)
    budget = int(budget / max(1e-3, 1 - max(opts["gap"], opts["stall"])))
    started = time.time()
    while len(seen.o_cycles) < n_out and seen.cycle < budget:
        await RisingEdge(dut.clk)
    wall, cycles_run = time.time() - started, seen.cycle

    # Drain: nothing more may come out once every row has (tready held high).
    o_sink.clear_pause_generator()
    o_sink.pause = False
    counted = len(seen.o_cycles)
    for _ in range(DRAIN_CYCLES):
        await RisingEdge(dut.clk)
    extra_beats = len(seen.o_cycles) - counted
    # STATUS through the CSR port: the bits the faults raised, then cleared by a write.
    await FallingEdge(dut.clk)
    status = await _csr_read(dut, CSR["STATUS"])
    await FallingEdge(dut.clk)
    await _csr_write(dut, CSR["STATUS"], 0)
    await FallingEdge(dut.clk)
    status_cleared = await _csr_read(dut, CSR["STATUS"])

    # The received frames as packed words (data, tuser, tlast at each frame's end);
    # beats of an unfinished frame count as missing.
    o_words = []
    while not o_sink.empty():
        frame = o_sink.recv_nowait(compact=False)
        for i, (data, user) in enumerate(zip(frame.tdata, frame.tuser)):
            last = int(i == len(frame.tdata) - 1)
            o_words.append(data | user << out_bits | last << (out_bits + 1))
    o_words = o_words[:n_out]
    o_cycles = seen.o_cycles[:len(o_words)]
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
        flags_ok = (len(o_words) == n_out
                    and np.array_equal(row_last, np.tile(np.arange(p.slices) == p.slices - 1, n))
                    and np.array_equal(np.nonzero(last)[0], head_ends - 1))
        words_compared, rows_out = n * p.head_dim, n
    summary = {
        "heads": len(heads), "rows_expected": int(len(expect)), "rows_out": int(rows_out),
        "words_compared": int(words_compared), "mismatches": int(mismatches),
        "flags_ok": bool(flags_ok), "protocol_errors": seen.protocol_errors[:10],
        "extra_output_beats": extra_beats, "status": status,
        "status_expected": status_expected, "status_after_clear": status_cleared,
        "ident": ident, "ident_expected": ident_expected,
        "kv_beats_taken": seen.kv_beats,
        "first_input_cycle": seen.first_in, "kv_last_cycle": seen.kv_last,
        "last_output_cycle": o_cycles[-1] if o_cycles else None,
        "cycles": (o_cycles[-1] - seen.first_in + 1) if o_cycles else None,
        "sim_cycles": cycles_run, "wall_seconds": round(wall, 3),
        "sim_cycles_per_second": round(cycles_run / wall, 1) if wall > 0 else None,
    }
    np.savez(os.environ["ATTNHW_RESULT"] + ".npz", o=rows, expect=expect)
    with open(os.environ["ATTNHW_RESULT"], "w") as f:
        json.dump(summary, f, indent=1)
    count_error = output_count_error(counted, len(o_words), n_out)
    assert count_error is None, count_error
    assert not seen.protocol_errors, seen.protocol_errors[0]
    assert seen.kv_beats == len(kv), f"{seen.kv_beats} of {len(kv)} K/V beats were taken"
    assert mismatches == 0, f"{mismatches} output words differ from the golden model"
    assert flags_ok, "wrong tuser (row end) or tlast (head end) flags on the output"
    assert ident == ident_expected, f"identification registers {ident}"
    assert extra_beats == 0, f"{extra_beats} output beats after the last row"
    assert status == status_expected, f"STATUS {status:#x}, expected {status_expected:#x}"
    assert status_cleared == 0, f"STATUS {status_cleared:#x} after a clearing write"
