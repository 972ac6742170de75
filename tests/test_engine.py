"""The engine (attnhw.hdl.engine) in Amaranth's simulator against attnhw.golden.engine: several
heads per run (double-buffered K/V), random masks and settings, random gaps on both
inputs and random backpressure on the output; every word and flag compared."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.engine import check_mode, engine_mask, key_limits
from attnhw.golden.params import AttnParams
from attnhw.hdl.engine import AttentionEngine
from attnhw.sim.amaranth_streams import add_watchdog, drain, receive, send
from attnhw.sim.engine_job import expected_rows, kv_beats, q_beats, random_head, rows_from_beats


def run_engine(p, heads, seed, gap=0.3, stall=0.3):
    """Drive all heads through the engine; returns the output beats (packed ints)."""
    rng = np.random.default_rng(seed)
    dut = AttentionEngine(p)
    kv_words, q_words = kv_beats(p, heads), q_beats(p, heads)
    n_out = sum(len(h["q"]) for h in heads) * p.slices
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out, extra = [], []
    kv_shape, q_shape = dut.kv.payload.shape(), dut.q.payload.shape()

    async def kv_source(ctx):
        await send(ctx, dut.kv, [kv_shape.from_bits(w) for w in kv_words], rng, gap)

    async def q_source(ctx):
        settings = dut.settings.shape()
        for w, s in q_words:        # the settings are driven with each beat of their head
            ctx.set(dut.settings, settings.from_bits(s))
            await send(ctx, dut.q, [q_shape.from_bits(w)], rng, gap)

    async def sink(ctx):
        out.extend(await receive(ctx, dut.o, n_out, rng, stall, raw=True))
        extra.append(await drain(ctx, dut.o, 200))

    sim.add_testbench(kv_source, background=True)
    sim.add_testbench(q_source, background=True)
    sim.add_testbench(sink)
    # A hung engine fails the test instead of the run.
    add_watchdog(sim, 40 * (len(kv_words) + len(q_words) * (p.data_width + 8) + 500),
                 lambda: f"{len(out)} of {n_out} output beats")
    sim.run()
    assert extra == [0], f"{extra[0]} output beats after the last row"
    return out


CONFIGS = [  # head_dim, lanes, data_width, max_seq_len, block, norm_lanes
    (8, 4, 6, 16, 1, 0), (8, 4, 6, 16, 2, 0), (8, 2, 8, 16, 3, 0), (4, 4, 4, 8, 4, 0),
    (6, 2, 5, 12, 2, 0), (16, 4, 8, 64, 4, 0), (4, 1, 8, 5, 2, 0),
    # Rows leave each core in parts (a narrow collector and normaliser).
    (8, 4, 6, 16, 2, 1), (16, 8, 8, 32, 3, 2),
]


@pytest.mark.parametrize("d,lanes,w,n,block,norm_lanes", CONFIGS)
def test_engine_matches_golden(d, lanes, w, n, block, norm_lanes):
    p = AttnParams(head_dim=d, lanes=lanes, data_width=w, max_seq_len=n, block=block,
                   norm_lanes=norm_lanes)
    rng = np.random.default_rng([d, lanes, w, n, block, norm_lanes])
    # Lengths include 1 key, max_seq_len keys, a partial last block and a single query.
    shapes = [(1, 1), (block * 2 + 1, n), (1, n), (block, 3)] + [
        (int(rng.integers(1, 2 * block + 3)), int(rng.integers(1, n + 1))) for _ in range(4)]
    heads = [random_head(p, rng, nq, nk, mask_prob=0.25, temperature=float(rng.choice([0.5, 2, 8])))
             for nq, nk in shapes]
    words = run_engine(p, heads, seed=block)
    expect = expected_rows(p, heads)
    assert len(words) == len(expect) * p.slices, "missing output beats"
    rows, row_last, last = rows_from_beats(p, words)
    assert np.array_equal(rows, expect), f"{int(np.sum(rows != expect))} words differ"
    assert np.array_equal(row_last, np.tile(np.arange(p.slices) == p.slices - 1, len(expect)))
    ends = np.cumsum([len(h["q"]) * p.slices for h in heads]) - 1
    assert np.array_equal(np.nonzero(last)[0], ends)


def test_mask_rule_and_hardware_limit_agree():
    """``engine_mask`` (the rule as stated) against a loop, and the hardware's form
    (one limit per query, ``attnhw.golden.engine.key_limits``) against ``engine_mask``."""
    p = AttnParams(max_seq_len=32)
    rng = np.random.default_rng(3)
    for _ in range(200):
        nq, nk = int(rng.integers(1, 40)), int(rng.integers(1, 33))
        causal, offset = bool(rng.integers(2)), int(rng.integers(-32, 33))
        key_limit = int(rng.integers(0, 33))
        pad = rng.random(nk) < 0.3
        got = engine_mask(nq, nk, p, pad, key_limit, causal, offset)
        loop = np.array([[pad[j] or (key_limit > 0 and j >= key_limit)
                          or (causal and j > i + offset) for j in range(nk)] for i in range(nq)])
        assert np.array_equal(got, loop)
        limit = key_limits(nq, p, key_limit, causal, offset)
        assert np.array_equal(got, pad[None, :] | (np.arange(nk)[None, :] >= limit[:, None]))


@pytest.mark.parametrize("key_limit,offset,message", [
    (33, 0, "key_limit=33 is out of range"), (-1, 0, "key_limit=-1"),
    (0, 33, "offset=33 is out of range"), (0, -33, "offset=-33")])
def test_bad_mode(key_limit, offset, message):
    with pytest.raises(ValueError, match=message):
        check_mode(AttnParams(max_seq_len=32), key_limit, offset)
