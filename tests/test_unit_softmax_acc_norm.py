"""Online-softmax, accumulator and normaliser units against golden stages."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.attention import attention, normalize, online_sum
from attnhw.golden.params import AttnParams
from attnhw.golden.quantize import random_problem
from attnhw.hdl.accumulator import Accumulator
from attnhw.hdl.normalize import Normalize
from attnhw.hdl.normalize_recip import normalizer
from attnhw.hdl.online_softmax import OnlineSoftmax
from tests.unit_sim import run_stream_unit

SMALL = dict(head_dim=8, lanes=2, max_seq_len=64)


def _rows(p, rng):
    """Queries with their golden stages: random, masked, all-masked, one dominant."""
    cases = []
    for temp, mask_prob in ((1.0, 0.0), (8.0, 0.3), (1.0, 1.0), (64.0, 0.0)):
        pr = random_problem(p, 3, 9, rng, temperature=temp, mask_prob=mask_prob)
        o, st = attention(pr["q"], pr["k"], pr["v"], pr["scale"], p, pr["masked"], stages=True)
        cases.append((pr, o, st))
    return cases


def _weights(p, st):
    sums = online_sum(st["e"], st["delta"], p)
    beats = []
    nq, nk = st["e"].shape
    for i in range(nq):
        for j in range(nk):
            beats.append({"e": int(st["e"][i, j]), "delta": int(st["delta"][i, j]),
                          "first": int(j == 0), "last": int(j == nk - 1),
                          "sum": int(sums[i, j])})
    return beats


def test_online_softmax_matches_golden():
    p = AttnParams(**SMALL)
    rng = np.random.default_rng(5)
    for pr, _, st in _rows(p, rng):
        nq, nk = st["x"].shape
        beats = [{"x": int(st["x"][i, j]), "masked": int(pr["masked"][i, j]),
                  "last": int(j == nk - 1)} for i in range(nq) for j in range(nk)]
        out = run_stream_unit(OnlineSoftmax(p), beats, len(beats), rng)
        assert out == _weights(p, st)


@pytest.mark.parametrize("spacing", [2, 3])
def test_online_softmax_two_cycle_sum_with_spaced_keys(spacing):
    """As in the core: keys at least `key_spacing` cycles apart, o.ready tied high, so
    the sum recurrence takes two cycles; every output beat compared, none extra."""
    p = AttnParams(**SMALL)
    rng = np.random.default_rng(15)
    cases = _rows(p, rng)
    beats, expect = [], []
    for pr, _, st in cases:
        nq, nk = st["x"].shape
        beats += [{"x": int(st["x"][i, j]), "masked": int(pr["masked"][i, j]),
                   "last": int(j == nk - 1)} for i in range(nq) for j in range(nk)]
        expect += _weights(p, st)
    dut = OnlineSoftmax(p, key_spacing=spacing)
    # compare, max, difference, clamp, exp, shift (one or two stages), add
    assert dut.latency == 4 + dut.exp_unit.latency + min(spacing, 3)
    seen = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        pending = list(beats)
        idle = 0
        for _ in range(len(beats) * (spacing + 3) + 4 * dut.latency):
            send = bool(pending) and idle <= 0
            if send:
                ctx.set(dut.i.payload, dut.i.payload.shape().const(pending.pop(0)))
                idle = spacing - 1 + int(rng.integers(0, 3))
            else:
                idle -= 1
            ctx.set(dut.i.valid, send)
            await ctx.tick()
            if ctx.get(dut.o.valid):
                seen.append(ctx.get(dut.o.payload))
        ctx.set(dut.i.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    got = [{k: getattr(b, k) for k in ("e", "delta", "first", "last", "sum")} for b in seen]
    assert got == expect


@pytest.mark.parametrize("kw", [SMALL, dict(SMALL, lanes=1), dict(SMALL, lanes=8),
                                dict(SMALL, lanes=4), dict(SMALL, head_dim=6)])
def test_accumulator_matches_golden(kw):
    p = AttnParams(**kw)
    rng = np.random.default_rng(6)
    for pr, _, st in _rows(p, rng):
        nq, nk = st["e"].shape
        weights = _weights(p, st)
        values = [pr["v"][j, s * p.lanes:(s + 1) * p.lanes].tolist()
                  for i in range(nq) for j in range(nk) for s in range(p.slices)]
        dut = Accumulator(p)
        out = run_stream_unit(dut, None, nq * p.slices, rng,
                              extra_inputs=[(dut.weights, weights), (dut.values, values)])
        got = np.array([o["acc"] for o in out]).reshape(nq, p.head_dim)
        assert got.tolist() == st["acc"].tolist()
        assert [o["sum"] for o in out] == np.repeat(st["l"], p.slices).tolist()
        assert [o["last"] for o in out] == [int(s == p.slices - 1)
                                            for _ in range(nq) for s in range(p.slices)]


@pytest.mark.parametrize("kw,parts", [(dict(SMALL, lanes=4), 2), (dict(SMALL, lanes=4), 4),
                                      (dict(SMALL, lanes=8, head_dim=24), 4)])
def test_accumulator_rows_in_parts_match_golden(kw, parts):
    """The engine's cores emit each slice in `parts` beats (Accumulator(p, parts)):
    lanes 0 .. lanes/parts - 1 first, the sum on every part, `last` on the row's
    final part only."""
    p = AttnParams(**kw)
    k = p.lanes // parts
    rng = np.random.default_rng(16)
    for pr, _, st in _rows(p, rng):
        nq, nk = st["e"].shape
        values = [pr["v"][j, s * p.lanes:(s + 1) * p.lanes].tolist()
                  for i in range(nq) for j in range(nk) for s in range(p.slices)]
        dut = Accumulator(p, parts)
        assert len(dut.o.payload.acc) == k
        n_beats = nq * p.slices * parts
        out = run_stream_unit(dut, None, n_beats, rng,
                              extra_inputs=[(dut.weights, _weights(p, st)), (dut.values, values)])
        got = np.array([o["acc"] for o in out]).reshape(nq, p.head_dim)
        assert got.tolist() == st["acc"].tolist()
        assert [o["sum"] for o in out] == np.repeat(st["l"], p.slices * parts).tolist()
        per_row = p.slices * parts
        assert [o["last"] for o in out] == [int(b == per_row - 1)
                                            for _ in range(nq) for b in range(per_row)]


@pytest.mark.parametrize("kw", [dict(SMALL, lanes=2), dict(SMALL, lanes=8), dict(SMALL, lanes=1),
                                dict(SMALL, head_dim=6, lanes=2)])
def test_accumulator_rescales_in_steps_when_the_max_jumps(kw):
    """Running maxima that rise by 4 ... 45 octaves at one key (clamped at
    shift_limit): the accumulator applies shifts above SHIFT_STEP in extra passes over
    the row, with the golden result, and idles its inputs meanwhile (random gaps and
    stalls). Each row's big jump comes late, with little after it, so the keys before
    it still count in the row's result (a wrong shift there shows)."""
    from attnhw.golden.attention import attention_from_scores
    p = AttnParams(**kw)
    rng = np.random.default_rng(26)
    F = p.score_frac_bits
    jumps = np.array([[0, 1, 0, 0, 0, 0, big, 0, 1, 0] for big in range(4, 18)]
                     + [[0, 45, 0, 2, 0, 5, 0, 7, 0, 1], [0, 0, 1, 2, 3, 4, 5, 6, 0, 1]])
    nq, nk = jumps.shape
    x = (np.cumsum(jumps, axis=1) - 60) << F
    x = x + rng.integers(0, 1 << F, x.shape)
    masked = np.zeros(x.shape, dtype=bool)
    masked[-1, 0] = True
    v = rng.integers(-(1 << (p.data_width - 1)), 1 << (p.data_width - 1), (nk, p.head_dim))
    _, st = attention_from_scores(x, v, p, masked, stages=True)
    assert st["delta"].max() > 2 * Accumulator.SHIFT_STEP      # several passes needed
    values = [v[j, s * p.lanes:(s + 1) * p.lanes].tolist()
              for i in range(nq) for j in range(nk) for s in range(p.slices)]
    dut = Accumulator(p)
    out = run_stream_unit(dut, None, nq * p.slices, rng,
                          extra_inputs=[(dut.weights, _weights(p, st)), (dut.values, values)],
                          cycles_per_beat=60)
    got = np.array([o["acc"] for o in out]).reshape(nq, p.head_dim)
    assert got.tolist() == st["acc"].tolist()


_NORM_CASES = [SMALL, dict(SMALL, data_width=16, lanes=4), dict(SMALL, data_width=3),
               dict(SMALL, norm_method="recip_nr"),
               dict(SMALL, norm_method="recip_lut", recip_table_bits=3),
               dict(SMALL, norm_method="recip_nr", data_width=12,
                    recip_table_bits=5, recip_frac_bits=14),
               dict(SMALL, norm_method="recip_nr", recip_frac_bits=26),
               dict(SMALL, out_frac_bits=4), dict(SMALL, data_width=6, out_frac_bits=2)]
# Narrow normalisers: each slice in parts (hdl/normalize_narrow.py).
_NARROW_CASES = [dict(SMALL, lanes=4, norm_lanes=1, out_frac_bits=2),
                 dict(SMALL, lanes=8, norm_lanes=2, norm_method="recip_nr")]


# split=False: the one-bank, one-cycle-per-bit divider that iCE40 gets.
@pytest.mark.parametrize("kw,split", [(kw, None) for kw in _NORM_CASES + _NARROW_CASES]
                         + [(kw, False) for kw in _NORM_CASES[:3] + _NORM_CASES[-2:]])
def test_normalize_matches_golden(kw, split):
    p = AttnParams(**kw)
    rng = np.random.default_rng(7)
    w = p.data_width
    n = 24
    sums = rng.integers(1, 1 << (p.exp_bits + p.guard_bits + 3), n)
    sums[:3] = [0, 1, (1 << p.sum_width) - 1]
    # Numerators around the representable range, including exact ties and saturation.
    ratio = rng.uniform(-(1 << (w - 1)) - 2, (1 << (w - 1)) + 2, (n, p.lanes))
    acc = np.clip(np.round(ratio * sums[:, None]), -(1 << (p.acc_width - 1)), (1 << (p.acc_width - 1)) - 1)
    acc[3, 0] = sums[3] // 2 * 3 if sums[3] % 2 == 0 else 3 * sums[3]   # tie or exact
    acc = acc.astype(np.int64)
    beats = [{"acc": acc[r].tolist(), "sum": int(sums[r]), "last": r % 2} for r in range(n)]
    unit = normalizer(p) if split is None else Normalize(p, split=split)
    out = run_stream_unit(unit, beats, n, rng)
    expect = normalize(acc, sums, p)
    assert np.array([o["o"] for o in out]).tolist() == expect.tolist()
    assert [o["last"] for o in out] == [r % 2 for r in range(n)]


def test_rescale_cost_counts_the_shift_passes():
    """attnhw.rescale_cost: ceil(delta / 3) - 1 extra passes per key, none up to 3."""
    from attnhw.rescale_cost import extra_passes
    assert Accumulator.SHIFT_STEP == 3
    assert extra_passes([0, 1, 3, 4, 6, 7, 38]).tolist() == 0 + 0 + 0 + 1 + 1 + 2 + 12
    assert extra_passes([[4], [9]]).tolist() == [1, 2]
