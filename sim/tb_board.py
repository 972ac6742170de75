"""cocotb testbench of a board's top (:class:`attnhw.hdl.board_link.BoardLink`): a
simulated serial port at its UART pins, and a host program that talks through it.

The job (``ATTNHW_JOB``, JSON) names the host program as ``"module:function"``; it is
called in a thread (cocotb's ``bridge``) as ``function(transport, args)``, with a
:class:`SimSerial` transport whose ``write``/``read`` move bytes through the UART pins
in simulated time. So the host side is the real driver (:mod:`attnhw.board`), as it
runs against a board's USB-UART. Whatever the function returns (JSON data) goes to
``ATTNHW_RESULT``. A cycle budget (of the link's clock) is the watchdog: a host that waits forever fails.
The engine runs on its own clock, unrelated to the link's.
"""

import collections
import importlib
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, FallingEdge, with_timeout


class SimSerial:
    """A serial port at the board's ``rx``/``tx`` pins, 8N1 at ``divisor`` clocks per
    bit. ``read(n)`` returns when ``n`` bytes have come or the line was quiet for
    ``timeout`` byte times (pyserial's ``read`` with a timeout, in simulated time)."""

    def __init__(self, dut, divisor, timeout_bytes):
        self.dut, self.divisor = dut, divisor
        self.timeout_cycles = timeout_bytes * 10 * divisor
        self._from_board = collections.deque()
        self.bytes_written = self.bytes_read = 0

    def start(self):
        cocotb.start_soon(self._watch_tx())

    async def _watch_tx(self):
        clk, tx = self.dut.clk, self.dut.tx
        while True:
            await FallingEdge(tx)
            await ClockCycles(clk, self.divisor // 2)
            if int(tx.value):
                continue                      # a glitch, not a start bit
            byte = 0
            for i in range(8):
                await ClockCycles(clk, self.divisor)
                byte |= int(tx.value) << i
            await ClockCycles(clk, self.divisor)
            if int(tx.value):                 # stop bit
                self._from_board.append(byte)

    # The host thread's side (blocking calls; each hands control to the simulator).

    def write(self, data):
        """Returns when the bytes are on the line (pyserial's ``write`` then ``flush``)."""
        self.bytes_written += len(data)
        resume(self._write)(bytes(data))

    async def _write(self, data):
        for byte in data:
            for bit in [0] + [byte >> i & 1 for i in range(8)] + [1]:
                self.dut.rx.value = bit
                await ClockCycles(self.dut.clk, self.divisor)

    def read(self, n):
        data = resume(self._read)(n)
        self.bytes_read += len(data)
        return data

    async def _read(self, n):
        step = 10 * self.divisor
        idle = 0
        while len(self._from_board) < n and idle < self.timeout_cycles:
            before = len(self._from_board)
            await ClockCycles(self.dut.clk, step)
            idle = 0 if len(self._from_board) > before else idle + step
        take = min(n, len(self._from_board))
        return bytes(self._from_board.popleft() for _ in range(take))

    def reset_input_buffer(self):
        self._from_board.clear()


@cocotb.test()
async def board_host(dut):
    job = json.loads(open(os.environ["ATTNHW_JOB"]).read())
    # The link's clock and the engine's, unrelated (the engine's period from the job).
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    cocotb.start_soon(Clock(dut.engine_clk, job["engine_period_ps"], unit="ps").start())
    dut.rx.value = 1
    dut.rst.value = dut.engine_rst.value = 1
    await ClockCycles(dut.clk, 4)
    await ClockCycles(dut.engine_clk, 4)
    dut.rst.value = dut.engine_rst.value = 0
    await ClockCycles(dut.clk, 4)
    port = SimSerial(dut, job["link"]["divisor"], job["host_timeout_bytes"])
    port.start()
    module, function = job["host"].split(":")
    host = getattr(importlib.import_module(module), function)
    result = await with_timeout(bridge(host)(port, job["args"]), job["cycle_budget"] * 10, "ns")
    result["bytes_to_board"], result["bytes_from_board"] = port.bytes_written, port.bytes_read
    with open(os.environ["ATTNHW_RESULT"], "w") as f:
        json.dump(result, f)
