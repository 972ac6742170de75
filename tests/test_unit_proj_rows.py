"""The output projection's row intake (attnhw.hdl.proj_rows) alone: the engine's rows
of several tiles and heads in, with random gaps; a consumer that takes the buffers
in turn, after random delays, and compares each row and its place (head, first
weight word, partial sums' address, tile end) with the order of
attnhw.sim.proj_job.row_order; a tile longer than tile_rows raises the error."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.out_proj import ProjParams
from attnhw.golden.params import AttnParams
from attnhw.hdl.proj_rows import ProjRowBuffers
from attnhw.sim.amaranth_streams import add_watchdog, send
from attnhw.sim.proj_job import c_beats, row_order


def run_rows(p, op, beats, n_rows, rng):
    dut = ProjRowBuffers(p, op)
    got = []
    flags = {}

    async def sender(ctx):
        await send(ctx, dut.c, beats, rng, 0.3)

    async def consumer(ctx):
        b = 0
        for _ in range(n_rows):
            await ctx.tick().until(dut.full[b])
            for _ in range(int(rng.integers(0, 6))):      # the issue takes its time
                await ctx.tick()
            row = [int(x) for x in ctx.get(dut.rows[b])]
            meta = ctx.get(dut.metas[b])
            got.append((row, int(meta.h), int(meta.wbase), int(meta.pbase),
                        int(meta.tile_last)))
            ctx.set(dut.free, 1 << b)
            await ctx.tick()
            ctx.set(dut.free, 0)
            b ^= 1
        for _ in range(20):
            await ctx.tick()
        flags["full"] = ctx.get(dut.full)
        flags["err"] = ctx.get(dut.err_tile_rows)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(sender, background=True)
    sim.add_testbench(consumer)
    add_watchdog(sim, 20 * len(beats) + 20 * n_rows + 500, lambda: f"{len(got)} of {n_rows} rows")
    sim.run()
    return got, flags


@pytest.mark.parametrize("d,lanes,heads,tile_rows,n", [(8, 4, 3, 3, 7), (4, 4, 2, 2, 5),
                                                        (6, 2, 1, 4, 4)])
def test_rows_and_places_in_order(d, lanes, heads, tile_rows, n):
    p = AttnParams(head_dim=d, lanes=lanes, data_width=8, max_seq_len=8)
    op = ProjParams(heads=heads, head_dim=d, d_out=8, data_width=p.out_width,
                       lanes=4, tile_rows=tile_rows)
    rng = np.random.default_rng([d, lanes, heads, tile_rows, n])
    lo = -(1 << p.out_width - 1)
    c = rng.integers(lo, -lo, (n, heads, d))
    expect = [([int(x) for x in c[i, h]], h, h * d, (i - s) * op.groups, int(i == e - 1))
              for s, e, h in row_order(n, op) for i in range(s, e)]
    got, flags = run_rows(p, op, c_beats(c, p, op), len(expect), rng)
    assert got == expect
    assert flags == {"full": 0, "err": 0}


def test_tile_beyond_tile_rows_raises_the_error():
    p = AttnParams(head_dim=4, lanes=4, data_width=8, max_seq_len=8)
    op = ProjParams(heads=1, head_dim=4, d_out=4, data_width=p.out_width, lanes=4,
                       tile_rows=2)
    rng = np.random.default_rng(3)
    c = rng.integers(-100, 100, (3, 1, 4))
    beats = [{"o": [int(x) for x in c[i, 0]], "row_last": 1, "last": int(i == 2)}
             for i in range(3)]                 # one tile of 3 rows, 2 allowed
    _, flags = run_rows(p, op, beats, 3, rng)
    assert flags["err"] == 1
