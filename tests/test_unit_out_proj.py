"""Output projection unit: every output word against the golden projection, tiles
and heads in stream order, random gaps and stalls, the weights loaded through the
load port; nothing extra after the last beat; a watchdog bounds the run."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.out_proj import ProjParams, load_words
from attnhw.golden.params import AttnParams
from attnhw.hdl.out_proj import OutProjection
from attnhw.sim.amaranth_streams import add_watchdog, drain, receive, send
from attnhw.sim.proj_job import c_beats, random_projection, y_beats


def _run(dut, loads, beats, count, rng, gap, stall):
    """Send the load words (each list in ``loads`` in turn), then the rows; collect
    ``count`` output beats. Returns (beats, error flags seen after the loads)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    got, extra, flags = [], [], {}

    async def sender(ctx):
        for words in loads:
            await send(ctx, dut.load, words, rng, gap)
        await ctx.tick()
        flags["load"] = ctx.get(dut.err_load_last)
        await send(ctx, dut.c, beats, rng, gap)

    async def receiver(ctx):
        got.extend(await receive(ctx, dut.y, count, rng, stall))
        extra.append(await drain(ctx, dut.y, 100))
        flags["tile"] = ctx.get(dut.err_tile_rows)

    sim.add_testbench(sender, background=True)
    sim.add_testbench(receiver)
    cycles = 4 * sum(map(len, loads)) + 4 * len(beats) \
        + 3 * count * dut.proj.head_dim + 2000
    add_watchdog(sim, cycles, lambda: f"{len(got)} of {count} output beats")
    sim.run()
    assert extra == [0], f"{extra[0]} beats after the last expected one"
    return got, flags


def _load(W_int, b_int, M, sh, op, last_at=None):
    words = load_words(W_int, b_int, M, sh, op)
    last = np.zeros(len(words), dtype=int)
    last[len(words) - 1 if last_at is None else last_at] = 1
    return [{"data": int(w), "last": int(x)} for w, x in zip(words, last)]


CASES = [  # (head_dim, lanes, heads, d_out, proj lanes, tile_rows, queries, w, ww)
    (4, 2, 3, 8, 4, 3, 7, 8, 8),      # 2 groups of 4 over d 4, a tile of one row
    (8, 4, 2, 12, 4, 4, 10, 8, 8),    # 3 groups, rows back to back
    (4, 4, 1, 4, 4, 2, 5, 8, 8),      # one head, one group
    (4, 4, 2, 4, 4, 2, 5, 8, 8),      # one group, a tile of one row: rows wait (needs_drain)
    (6, 3, 2, 6, 2, 5, 9, 12, 16),    # 12-bit rows, 16-bit weights
    (4, 2, 2, 16, 8, 3, 5, 8, 8),     # 8 lanes over d 4: two shared requantisers
]


@pytest.mark.parametrize("d, lanes, heads, d_out, P, T, n, w, ww", CASES)
@pytest.mark.parametrize("gap, stall", [(0.0, 0.0), (0.4, 0.5)])
def test_out_proj_matches_golden(d, lanes, heads, d_out, P, T, n, w, ww, gap, stall):
    rng = np.random.default_rng(d * 1000 + heads * 10 + int(10 * gap))
    p = AttnParams(head_dim=d, lanes=lanes, data_width=w, max_seq_len=16)
    op = ProjParams(heads=heads, head_dim=d, d_out=d_out, data_width=w, weight_width=ww,
                       out_width=w, lanes=P, tile_rows=T)
    lo, hi = -(1 << (w - 1)), 1 << (w - 1)
    c = rng.integers(lo, hi, (n, heads, d))
    integers = random_projection(op, rng)
    expect = y_beats(c, *integers, op)
    dut = OutProjection(p, op)
    assert dut.requantisers == -(-P // d)
    if d_out == P:           # one group: a one-row tile's next head reads its sums too soon
        assert dut.needs_drain
    got, flags = _run(dut, [_load(*integers, op)], c_beats(c, p, op), len(expect), rng,
                      gap, stall)
    assert flags == {"load": 0, "tile": 0}
    ys = np.array([b["y"] for b in got])
    assert 0 < np.mean(np.abs(ys) == hi - 1) < 0.5, "the job should saturate some outputs, not most"
    assert got == expect


def test_misplaced_load_last_is_flagged_and_a_reload_recovers():
    rng = np.random.default_rng(5)
    p = AttnParams(head_dim=4, lanes=2, max_seq_len=16)
    op = ProjParams(heads=2, head_dim=4, d_out=8, lanes=4, tile_rows=2)
    c = rng.integers(-128, 128, (3, 2, 4))
    first = random_projection(op, rng)
    integers = random_projection(op, rng)
    # A load cut short: its `last` on word 10 ends it (flagged); the next load is whole.
    loads = [_load(*first, op, last_at=10)[:11], _load(*integers, op)]
    expect = y_beats(c, *integers, op)
    got, flags = _run(OutProjection(p, op), loads, c_beats(c, p, op), len(expect), rng, 0.2, 0.2)
    assert flags["load"] == 1 and got == expect


def test_a_tile_longer_than_tile_rows_is_flagged():
    rng = np.random.default_rng(6)
    p = AttnParams(head_dim=4, lanes=4, max_seq_len=16)
    op = ProjParams(heads=1, head_dim=4, d_out=4, lanes=4, tile_rows=2)
    long = ProjParams(heads=1, head_dim=4, d_out=4, lanes=4, tile_rows=3)
    c = rng.integers(-128, 128, (3, 1, 4))
    integers = random_projection(op, rng)
    got, flags = _run(OutProjection(p, op), [_load(*integers, op)], c_beats(c, p, long), 3,
                      rng, 0.0, 0.0)
    assert flags["tile"] == 1


def test_gateware_parameters_are_checked():
    p = AttnParams(head_dim=4, lanes=2, max_seq_len=16)
    with pytest.raises(ValueError, match="not a multiple of the projection's lanes"):
        OutProjection(p, ProjParams(heads=2, head_dim=4, d_out=6, lanes=4))
    with pytest.raises(ValueError, match="multiple of 32"):
        OutProjection(p, ProjParams(heads=2, head_dim=4, d_out=6, lanes=2))
    with pytest.raises(ValueError, match="must be the engine's"):
        OutProjection(p, ProjParams(heads=2, head_dim=8, d_out=8, lanes=4))


def test_tile_passes_compute_the_whole_layer():
    """The passes of a layer (tiles, each once per head, causal offsets moved to the
    tile) give, through golden's engine and projection, golden's projection of each
    whole head's attention."""
    from attnhw.golden.engine import engine_attention
    from attnhw.golden.out_proj import project
    from attnhw.sim.engine_job import expected_rows, random_head
    from attnhw.sim.proj_job import project_passes, tile_passes

    p = AttnParams(head_dim=4, lanes=2, max_seq_len=16, out_features=4, proj_heads=2,
                   proj_lanes=4, tile_rows=3)
    op, rng = p.out_proj, np.random.default_rng(8)
    layer = [[random_head(p, rng, 8, nk, mask_prob=0.2) for _ in range(2)] for nk in (5, 12)]
    layer[0][1].update(causal=True, offset=-2, key_limit=0)
    layer[1][0].update(causal=True, offset=12 - 8, key_limit=3)
    integers = random_projection(op, rng)
    passes = tile_passes(layer, op)
    got = np.array([b["y"] for b in project_passes(expected_rows(p, passes), passes, integers,
                                                   op)]).reshape(-1, op.d_out)
    whole = [np.stack([engine_attention(h["q"], h["k"], h["v"], h["scale"], p, key_pad=h["pad"],
                                        key_limit=h["key_limit"], causal=h["causal"],
                                        offset=h["offset"]) for h in heads], axis=1)
             for heads in layer]
    expect = np.concatenate([project(c, *integers, op) for c in whole])
    assert len(passes) == 2 * 3 * 2 and np.array_equal(got, expect)
