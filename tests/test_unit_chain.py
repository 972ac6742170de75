"""The chain past the engine's cores (attnhw.hdl.chain): every beat reaches each stop it
is for, and only those, exactly ``hops(b)`` cycles after it entered; credit returns
come back after as many cycles."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.hdl.chain import Chain


@pytest.mark.parametrize("stops", [1, 2, 4])
def test_chain_delivers_each_beat_to_its_stops_after_its_hops(stops):
    rng = np.random.default_rng(stops)
    cycles = 200
    valid = rng.random(cycles) < 0.6
    dest = rng.integers(0, 1 << stops, cycles)
    payload = rng.integers(0, 1 << 10, cycles)
    release = rng.random((cycles, stops)) < 0.5
    dut = Chain(10, stops)
    seen = {b: [] for b in range(stops)}
    returned = {b: [] for b in range(stops)}

    async def tb(ctx):
        for t in range(cycles + stops + 2):
            if t < cycles:
                ctx.set(dut.i.valid, int(valid[t]))
                ctx.set(dut.i.dest, int(dest[t]))
                ctx.set(dut.i.payload, int(payload[t]))
                ctx.set(dut.release, int(sum(int(r) << b for b, r in enumerate(release[t]))))
            else:
                ctx.set(dut.i.valid, 0)
                ctx.set(dut.release, 0)
            for b in range(stops):
                if ctx.get(dut.o[b].valid):
                    seen[b].append((t, ctx.get(dut.o[b].payload)))
                if (ctx.get(dut.released) >> b) & 1:
                    returned[b].append(t)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    for b in range(stops):
        h = Chain.hops(b)
        expect = [(t + h, int(payload[t])) for t in range(cycles)
                  if valid[t] and (dest[t] >> b) & 1]
        assert seen[b] == expect, f"stop {b}"
        assert returned[b] == [t + h for t in range(cycles) if release[t, b]], f"credits of {b}"
