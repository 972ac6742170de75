"""The engine's control units alone in Amaranth's simulator: the key limit against
attnhw.golden.engine.key_limits, the query distributor against the rule "query i of a
head to core i mod block" (random gaps, random backpressure per core), the emitter's
row and head ends against the block descriptors."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.engine import key_limits
from attnhw.golden.params import AttnParams
from attnhw.hdl.key_limit import KeyLimit
from attnhw.hdl.query_distributor import QueryDistributor
from attnhw.hdl.row_emitter import RowEmitter
from attnhw.sim.amaranth_streams import add_watchdog, drain, receive, send


def _settings(p, rng):
    n = p.max_seq_len
    return dict(scale=int(rng.integers(0, 1 << p.scale_width)), causal=int(rng.integers(0, 2)),
                offset=int(rng.integers(-n, n + 1)), key_limit=int(rng.integers(0, n + 1)))


@pytest.mark.parametrize("n,block", [(16, 2), (5, 3), (64, 4)])
def test_key_limit_matches_golden(n, block):
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=n, block=block)
    rng = np.random.default_rng(n)
    events = []
    for _ in range(12):                      # heads of random settings and lengths
        s = _settings(p, rng)
        nq = int(rng.integers(1, 2 * n + 4))
        expect = key_limits(nq, p, key_limit=s["key_limit"], causal=bool(s["causal"]),
                            offset=s["offset"])
        for i in range(nq):
            events.append(dict(index=min(i, 2 * n), slot=i % block, settings=s,
                               block_end=int(i % block == block - 1 or i == nq - 1),
                               head_end=int(i == nq - 1), limit=int(expect[i])))
    # Random idle cycles between the events (and none, back to back).
    schedule = []
    for ev in events:
        schedule += [None] * int(rng.integers(0, 3)) + [ev]
    dut = KeyLimit(p)
    got = []

    async def tb(ctx):
        for t, ev in enumerate(schedule + [None] * (KeyLimit.latency + 1)):
            ctx.set(dut.i.valid, ev is not None)
            if ev is not None:
                ctx.set(dut.i.index, ev["index"])
                ctx.set(dut.i.slot, ev["slot"])
                ctx.set(dut.i.block_end, ev["block_end"])
                ctx.set(dut.i.head_end, ev["head_end"])
                for k, v in ev["settings"].items():
                    ctx.set(getattr(dut.i.settings, k), v)
            if ctx.get(dut.o.valid):
                got.append((t, ctx.get(dut.o.slot), ctx.get(dut.o.block_end),
                            ctx.get(dut.o.head_end), ctx.get(dut.o.limit)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert got == [(t + KeyLimit.latency, e["slot"], e["block_end"], e["head_end"], e["limit"])
                   for t, e in enumerate(schedule) if e is not None]


@pytest.mark.parametrize("block,slices", [(1, 2), (2, 2), (3, 1), (4, 4)])
def test_query_distributor_sends_query_i_to_core_i_mod_block(block, slices):
    p = AttnParams(head_dim=4 * slices, lanes=4, max_seq_len=16, block=block)
    rng = np.random.default_rng(block * 10 + slices)
    dut = QueryDistributor(p)
    q_shape = dut.q.payload.shape()
    heads = [int(rng.integers(1, 3 * block + 2)) for _ in range(6)]
    beats, expect_core = [], {b: [] for b in range(block)}
    expect_done = []
    tag = 0
    for nq in heads:
        for i in range(nq):
            for s in range(slices):
                tag += 1
                last = int(i == nq - 1 and s == slices - 1)
                beats.append(q_shape.const({"q": [tag % 128 - 64, 0, 0, 0], "last": last}))
                expect_core[i % block].append(tag % 128 - 64)
            expect_done.append((min(i, 2 * p.max_seq_len), i % block,
                                int(i % block == block - 1 or i == nq - 1), int(i == nq - 1)))
    got_core = {b: [] for b in range(block)}
    done = []

    async def source(ctx):
        ctx.set(dut.room, 1)
        await send(ctx, dut.q, beats, rng, 0.3)

    def core_sink(b):
        async def tb(ctx):
            out = await receive(ctx, dut.o[b], len(expect_core[b]), rng, 0.5)
            got_core[b].extend(o["q"][0] for o in out)
            assert await drain(ctx, dut.o[b], 50) == 0
        return tb

    async def watch(ctx):
        async for _, _, valid, index, slot, block_end, head_end in ctx.tick().sample(
                dut.done.valid, dut.done.index, dut.done.slot, dut.done.block_end,
                dut.done.head_end):
            if valid:
                done.append((index, slot, block_end, head_end))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_process(watch)
    for b in range(block):
        sim.add_testbench(core_sink(b))
    add_watchdog(sim, 40 * len(beats) + 500, lambda: f"{got_core}")
    sim.run()
    assert got_core == expect_core
    assert done == expect_done


def test_query_distributor_holds_queries_without_room():
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16, block=2)
    dut = QueryDistributor(p)
    seen = []

    async def tb(ctx):
        ctx.set(dut.room, 0)
        ctx.set(dut.q.valid, 1)
        for _ in range(10):
            await ctx.tick()
            seen.append(ctx.get(dut.q.ready))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen == [0] * 10


@pytest.mark.parametrize("block", [1, 3])
def test_row_emitter_marks_row_and_head_ends(block):
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16, block=block)
    rng = np.random.default_rng(block)
    dut = RowEmitter(p)
    heads = [int(rng.integers(1, 3 * block + 2)) for _ in range(5)]
    descs, rows, expect = [], [], []
    tag = 0
    for nq in heads:
        for start in range(0, nq, block):
            count = min(block, nq - start)
            descs.append({"count": count, "head_end": int(start + count == nq)})
        for i in range(nq):
            for s in range(p.slices):
                tag += 1
                row_last = int(s == p.slices - 1)
                rows.append({"o": [tag % 100, 0, 0, 0], "last": row_last})
                expect.append((tag % 100, row_last, int(row_last and i == nq - 1)))
    out = []
    desc_shape, row_shape = dut.desc.payload.shape(), dut.rows.payload.shape()

    async def desc_source(ctx):
        await send(ctx, dut.desc, [desc_shape.const(d) for d in descs], rng, 0.5)

    async def row_source(ctx):
        await send(ctx, dut.rows, [row_shape.const(r) for r in rows], rng, 0.3)

    async def sink(ctx):
        got = await receive(ctx, dut.o, len(expect), rng, 0.4)
        out.extend((o["o"][0], o["row_last"], o["last"]) for o in got)
        assert await drain(ctx, dut.o, 50) == 0

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(desc_source, background=True)
    sim.add_testbench(row_source, background=True)
    sim.add_testbench(sink)
    add_watchdog(sim, 40 * len(rows) + 500, lambda: f"{len(out)} of {len(expect)}")
    sim.run()
    assert out == expect
