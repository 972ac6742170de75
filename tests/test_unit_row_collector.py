"""Row collector: every core's rows, block by block in core order, under random gaps
and stalls; nothing extra after the last beat; a watchdog bounds the run."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.params import AttnParams
from attnhw.hdl.row_collector import RowCollector
from attnhw.sim.amaranth_streams import add_watchdog, drain, receive, send


def _job(p, blocks, rng):
    """Per core, the rows it produces (as beats); the descriptors; and the beats in
    the order the collector must give them: block by block, core 0 .. count - 1."""
    per_core = [[] for _ in range(p.block)]
    descs, expect = [], []
    for _ in range(blocks):
        count = int(rng.integers(1, p.block + 1))
        descs.append({"count": count, "head_end": int(rng.random() < 0.3)})
        for b in range(count):
            row = []
            for s in range(p.slices):
                row.append({"acc": [int(x) for x in rng.integers(-(1 << (p.acc_width - 1)),
                                                                  1 << (p.acc_width - 1), p.lanes)],
                            "sum": int(rng.integers(0, 1 << p.sum_width)),
                            "last": int(s == p.slices - 1)})
            per_core[b].extend(row)
            expect.extend(row)
    return per_core, descs, expect


@pytest.mark.parametrize("block, gap, stall", [(1, 0.0, 0.0), (3, 0.4, 0.4), (4, 0.0, 0.7),
                                               (4, 0.7, 0.0)])
def test_row_collector_gives_rows_in_query_order(block, gap, stall):
    p = AttnParams(head_dim=6, lanes=2, max_seq_len=32, block=block)
    rng = np.random.default_rng(block * 7 + int(10 * gap))
    per_core, descs, expect = _job(p, 40, rng)
    dut = RowCollector(p)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    got, extra = [], []

    def sender(port, beats):
        async def tb(ctx):
            await send(ctx, port, beats, rng, gap)
        return tb

    for b in range(block):
        sim.add_testbench(sender(dut.rows[b], per_core[b]), background=True)
    sim.add_testbench(sender(dut.desc, descs), background=True)

    async def receiver(ctx):
        got.extend(await receive(ctx, dut.o, len(expect), rng, stall))
        extra.append(await drain(ctx, dut.o, 50))

    sim.add_testbench(receiver)
    # At most 3 cycles per beat plus stalls: a lost beat fails here.
    add_watchdog(sim, 40 * len(expect) + 500, lambda: f"{len(got)} of {len(expect)} beats")
    sim.run()
    assert got == expect
    assert extra == [0], "a beat after the last one"
