"""Directed and random test scenarios for the core, as one job of many queries.

Each query carries its own keys and values (padded to the longest), so one
simulation covers: seq_len 1, all-equal scores, one dominant score, extreme values
(-2^(w-1) everywhere, largest and smallest scale), masked keys, an all-masked row,
scale 0, and random rows of random length.
"""

import numpy as np

from attnhw.golden.quantize import random_problem

from .jobs import make_job

__all__ = ["scenario_job", "head_job", "SCENARIOS"]

SCENARIOS = ("seq_len_1", "all_equal", "dominant", "extreme_min_scale_max",
             "extreme_min_scale_1", "extreme_mixed", "masked_half", "all_masked",
             "first_keys_masked", "scale_zero", "random_long", "random_peaked")


def _query(p, name, rng, n_max):
    d, w = p.head_dim, p.data_width
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    pr = random_problem(p, 1, n_max, rng)
    q, k, v, scale = pr["q"][0], pr["k"], pr["v"], pr["scale"]
    n = n_max
    masked = np.zeros(n_max, dtype=bool)
    if name == "seq_len_1":
        n = 1
    elif name == "all_equal":
        k = np.broadcast_to(k[:1], k.shape).copy()
    elif name == "dominant":
        k[n_max // 2] = np.where(q >= 0, hi, lo)
        scale = (1 << p.scale_width) // 64
    elif name.startswith("extreme"):
        q = np.full(d, lo)
        k = np.full((n_max, d), lo)
        v = np.full((n_max, d), lo)
        scale = {"extreme_min_scale_max": (1 << p.scale_width) - 1,
                 "extreme_min_scale_1": 1}.get(name, (1 << p.scale_width) - 1)
        if name == "extreme_mixed":
            k[::2] = hi
            v[1::2] = hi
    elif name == "masked_half":
        masked = rng.random(n_max) < 0.5
    elif name == "all_masked":
        masked[:] = True
    elif name == "first_keys_masked":
        masked[: n_max // 2] = True
    elif name == "scale_zero":
        scale = 0
    elif name == "random_long":
        n = int(rng.integers(1, n_max + 1))
    elif name == "random_peaked":
        pr = random_problem(p, 1, n_max, rng, temperature=8.0)
        q, k, v, scale = pr["q"][0], pr["k"], pr["v"], pr["scale"]
    return q, k, v, masked, scale, n


def scenario_job(p, rng, n_max=12, repeats=2, gap=0.3, stall=0.3, seed=0):
    """Every scenario ``repeats`` times, shuffled, with random stalls."""
    names = [s for s in SCENARIOS for _ in range(repeats)]
    rng.shuffle(names)
    rows = [_query(p, name, rng, n_max) for name in names]
    q, k, v, masked, scale, n = (np.array(x) for x in zip(*rows))
    return make_job(p, q, k, v, masked, scale, n, gap=gap, stall=stall, seed=seed), names


def head_job(p, rng, queries, seq_len, *, gap=0.0, stall=0.0, seed=0, temperature=1.0,
             mask_prob=0.0):
    """One head of quantised Gaussian data: every query against the same ``seq_len``
    keys (back to back when ``gap`` and ``stall`` are 0). Returns ``(job, problem)``."""
    pr = random_problem(p, queries, seq_len, rng, temperature=temperature, mask_prob=mask_prob)
    k = np.broadcast_to(pr["k"], (queries,) + pr["k"].shape)
    v = np.broadcast_to(pr["v"], (queries,) + pr["v"].shape)
    job = make_job(p, pr["q"], k, v, pr["masked"], pr["scale"], gap=gap, stall=stall, seed=seed)
    return job, pr
