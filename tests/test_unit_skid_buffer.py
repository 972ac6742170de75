"""Skid buffer: every beat passes once, in order, under random gaps and stalls; the
copies of ``ready`` equal it in every cycle."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.hdl.skid_buffer import SkidBuffer
from attnhw.sim.amaranth_streams import add_watchdog, receive, send
from tests.unit_sim import run_stream_unit


@pytest.mark.parametrize("gap, stall", [(0.0, 0.0), (0.5, 0.5), (0.0, 0.8), (0.8, 0.0)])
def test_skid_buffer_passes_every_beat_in_order(gap, stall):
    rng = np.random.default_rng(3)
    beats = rng.integers(0, 1 << 12, 300).tolist()
    assert run_stream_unit(SkidBuffer(12), beats, len(beats), rng, gap=gap, stall=stall) == beats


def test_skid_buffer_ready_copies_follow_ready_every_cycle():
    rng = np.random.default_rng(5)
    dut = SkidBuffer(12, ready_copies=3)
    beats = rng.integers(0, 1 << 12, 200).tolist()
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    got, seen = [], []

    async def sender(ctx):
        await send(ctx, dut.i, beats, rng, 0.3)

    async def receiver(ctx):
        got.extend(await receive(ctx, dut.o, len(beats), rng, 0.6))

    async def watcher(ctx):
        async for _, _, ready, *copies in ctx.tick().sample(dut.i.ready, *dut.ready_copies):
            seen.append((ready, *copies))

    sim.add_testbench(sender, background=True)
    sim.add_process(watcher)
    sim.add_testbench(receiver)
    add_watchdog(sim, 20 * len(beats) + 500, lambda: f"{len(got)} of {len(beats)} beats")
    sim.run()
    assert got == beats
    assert {r for r, *_ in seen} == {0, 1}            # the buffer did fill and empty
    assert all(len(set(s)) == 1 for s in seen)
