"""A core's K/V buffer (attnhw.hdl.kv_buffer) alone: a sender that issues a beat only
with a credit (returned some cycles after the beat leaves, as the engine's chain
does), random gaps, random backpressure; every beat in order, none extra, and a
buffer never refused a beat; with credits to spare it passes one beat per cycle."""

import numpy as np
import pytest
from amaranth.hdl import unsigned
from amaranth.sim import Simulator

from attnhw.hdl.kv_buffer import KVBuffer
from attnhw.sim.amaranth_streams import add_watchdog, drain, receive


def run_buffer(width, depth, parts, beats, rng, *, gap, stall, credit_delay):
    dut = KVBuffer(unsigned(width), depth, parts)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    got, extra = [], []
    returns = []            # cycles at which a credit comes back
    state = {"cycle": 0, "credits": depth, "sent_cycles": [], "full": 0}

    async def sender(ctx):
        k = 0
        while k < len(beats):
            state["credits"] += sum(1 for c in returns if c == state["cycle"])
            state["full"] += state["credits"] == 0
            if state["credits"] and rng.random() >= gap:
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, beats[k])
                state["credits"] -= 1
                state["sent_cycles"].append(state["cycle"])
                k += 1
            else:
                ctx.set(dut.i.valid, 0)
            await ctx.tick()
            state["cycle"] += 1
        ctx.set(dut.i.valid, 0)

    async def taker(ctx):
        # A credit returns `credit_delay` cycles after a beat leaves `o`.
        async for _, _, valid, ready in ctx.tick().sample(dut.o.valid, dut.o.ready):
            if valid and ready:
                returns.append(state["cycle"] + credit_delay)

    async def receiver(ctx):
        got.extend(await receive(ctx, dut.o, len(beats), rng, stall))
        extra.append(await drain(ctx, dut.o, 50))

    sim.add_testbench(sender, background=True)
    sim.add_testbench(taker, background=True)
    sim.add_testbench(receiver)
    add_watchdog(sim, 20 * len(beats) + 500, lambda: f"{len(got)} of {len(beats)} beats")
    sim.run()
    assert extra == [0], f"{extra[0]} beats after the last"
    return got, state["sent_cycles"], state["full"]


@pytest.mark.parametrize("width,depth,parts", [(258, 22, 4), (21, 8, 1), (18, 15, 3),
                                               (9, 16, 2)])
def test_kv_buffer_keeps_order_under_stalls(width, depth, parts):
    rng = np.random.default_rng([width, depth, parts])
    beats = [int(x) for x in rng.integers(0, 1 << min(width, 62), 400)]
    beats += [(1 << width) - 1, 0, 1 << (width - 1)]
    got, _, full = run_buffer(width, depth, parts, beats, rng, gap=0.3, stall=0.7,
                              credit_delay=int(rng.integers(1, 4)))
    assert got == beats
    assert full > 20, "the buffer was seldom full: the test exercised little"


def test_kv_buffer_one_beat_per_cycle():
    """Credits that cover the round trip: the sender never waits."""
    rng = np.random.default_rng(1)
    beats = list(range(1, 101))
    got, sent, _ = run_buffer(16, 8, 2, beats, rng, gap=0.0, stall=0.0, credit_delay=2)
    assert got == beats
    assert sent == list(range(sent[0], sent[0] + len(beats))), "the sender waited"
