"""Long randomised regression of the RTL: random parameter sets, random jobs, every
output word compared with the golden model, on the core and on the engine.

Everything is derived from one seed: core configuration ``c`` from ``(seed, c)``, its
job ``j`` from ``(seed, c, j)``; engine configuration ``c`` and its jobs likewise under
a separate stream. ``attnhw soak --seed S --replay c.j`` re-runs one core job exactly,
``--replay engine:c.j`` one engine job.
"""

import itertools
import json
import time

import numpy as np

from attnhw.golden.errors import InputError
from attnhw.golden.params import AttnParams, ParamError
from attnhw.sim.engine_job import random_head
from attnhw.sim.jobs import make_job
from attnhw.sim.runner import run_engine_job, run_job
from attnhw.sim.scenarios import scenario_job
from attnhw import __version__

from .outputs import atomic_write

__all__ = ["random_params", "random_job", "random_engine_params", "random_engine_job", "soak"]

#: Seeds the engine's configurations and jobs apart from the core's.
_ENGINE_STREAM = 0xE0


def random_params(seed, c):
    """A random valid configuration (widths, shapes, numerics, sequence limit)."""
    rng = np.random.default_rng([seed, c])
    while True:
        head_dim = int(rng.choice([2, 4, 8, 12, 16, 32, 64]))
        lanes = int(rng.choice([l for l in range(1, head_dim + 1) if head_dim % l == 0
                                and head_dim // l <= 8]))
        kw = dict(head_dim=head_dim, lanes=lanes, data_width=int(rng.integers(2, 17)),
                  max_seq_len=int(rng.choice([16, 64, 256, 4096])),
                  exp_bits=int(rng.integers(8, 21)), guard_bits=int(rng.integers(0, 5)),
                  exp_table_bits=int(rng.integers(3, 9)))
        # Drawn after the fields above, so earlier seeds keep their shapes and widths.
        kw.update(exp_method=str(rng.choice(AttnParams.EXP_METHODS)),
                  norm_method=str(rng.choice(AttnParams.NORM_METHODS)),
                  recip_table_bits=int(rng.integers(3, 10)))
        try:
            return AttnParams(**kw)
        except ParamError:
            continue


def random_job(p, seed, c, j):
    """Job ``j`` of configuration ``c``: every third a shuffled set of the directed
    scenarios, the others random queries of random lengths (some at max_seq_len),
    random masks, temperatures, input gaps and output stalls."""
    rng = np.random.default_rng([seed, c, j])
    gap, stall = float(rng.uniform(0, 0.5)), float(rng.uniform(0, 0.6))
    job_seed = int(rng.integers(1 << 31))
    # Jobs of some 10^4 words: each simulator start costs about a second.
    if j % 3 == 0:
        n_max = int(min(p.max_seq_len, 12))
        job, _ = scenario_job(p, rng, n_max=n_max, repeats=max(2, 800 // p.head_dim),
                              gap=gap, stall=stall, seed=job_seed)
        return job
    nq = int(rng.integers(4000, 16000) // p.head_dim)
    n_max = int(min(p.max_seq_len, rng.choice([4, 16, 64])))
    lo, hi = -(1 << (p.data_width - 1)), 1 << (p.data_width - 1)
    q = rng.integers(lo, hi, (nq, p.head_dim))
    k = rng.integers(lo, hi, (nq, n_max, p.head_dim))
    v = rng.integers(lo, hi, (nq, n_max, p.head_dim))
    masked = rng.random((nq, n_max)) < rng.choice([0.0, 0.1, 0.5])
    n_keys = rng.integers(1, n_max + 1, nq)
    n_keys[rng.random(nq) < 0.2] = n_max
    scale = rng.integers(0, 1 << p.scale_width, nq) >> rng.integers(0, p.scale_width, nq)
    return make_job(p, q, k, v, masked, scale, n_keys, gap=gap, stall=stall, seed=job_seed)


def random_engine_params(seed, c):
    """A random valid engine configuration: block, lanes, head_dim, widths, numerics
    and a K/V store of up to 64 keys."""
    rng = np.random.default_rng([seed, _ENGINE_STREAM, c])
    while True:
        head_dim = int(rng.choice([2, 4, 8, 12, 16, 32]))
        lanes = int(rng.choice([l for l in range(1, head_dim + 1) if head_dim % l == 0
                                and head_dim // l <= 8]))
        kw = dict(head_dim=head_dim, lanes=lanes, data_width=int(rng.integers(2, 13)),
                  max_seq_len=int(rng.choice([8, 16, 32, 64])), block=int(rng.integers(1, 5)),
                  exp_bits=int(rng.integers(8, 21)), guard_bits=int(rng.integers(0, 5)),
                  exp_method=str(rng.choice(AttnParams.EXP_METHODS)),
                  norm_method=str(rng.choice(AttnParams.NORM_METHODS)))
        try:
            return AttnParams(**kw)
        except ParamError:
            continue


def random_engine_job(p, seed, c, j):
    """Engine job ``j`` of configuration ``c``: several heads of random shapes (some at
    max_seq_len keys, some with a partial last block), random padding masks, causal
    offsets and key limits, temperatures, input gaps and output stalls. Returns
    ``(heads, gap, stall, job_seed)``."""
    rng = np.random.default_rng([seed, _ENGINE_STREAM, c, j])
    gap, stall = float(rng.uniform(0, 0.4)), float(rng.uniform(0, 0.5))
    n = p.max_seq_len
    heads, words = [], 0
    while words < 6000:                  # ~10^4 words: each simulator start costs ~1 s
        nq = int(rng.integers(1, 4 * p.block + 2))
        nk = n if rng.random() < 0.2 else int(rng.integers(1, n + 1))
        heads.append(random_head(p, rng, nq, nk, mask_prob=float(rng.choice([0, 0.1, 0.5])),
                                 temperature=float(rng.choice([0.5, 1, 4, 16]))))
        words += nq * p.head_dim
    return heads, gap, stall, int(rng.integers(1 << 31))


def _run_engine(p, seed, c, j, simulator, log):
    heads, gap, stall, job_seed = random_engine_job(p, seed, c, j)
    t = time.monotonic()
    res = run_engine_job(p, heads, gap=gap, stall=stall, seed=job_seed, simulator=simulator,
                         log=log)
    missing = res["rows_expected"] - res["rows_out"]
    bad = (res["mismatches"] + missing + res["extra_output_beats"]
           + len(res["protocol_errors"]) + (not res["flags_ok"])
           + (res["status"] != res["status_expected"]))
    return {"top": "engine", "config": c, "job": j, "words": res["words_compared"],
            "mismatches": res["mismatches"], "missing_rows": missing,
            "extra_output_beats": res["extra_output_beats"],
            "protocol_errors": len(res["protocol_errors"]), "cycles": res["cycles"],
            "seconds": round(time.monotonic() - t, 2), "ok": bad == 0,
            "replay": f"attnhw soak --seed {seed} --replay engine:{c}.{j}"}


def _run(p, seed, c, j, simulator, log):
    job = random_job(p, seed, c, j)
    t = time.monotonic()
    res = run_job(job, simulator=simulator, log=log)
    bad = (res["mismatches"] + res["missing_rows"] + res["extra_output_beats"]
           + res["last_flag_errors"] + len(res["protocol_errors"])
           + (res["error_flags"] != res["error_flags_expected"]))
    return {"top": "core", "config": c, "job": j, "words": res["words_compared"],
            "mismatches": res["mismatches"], "missing_rows": res["missing_rows"],
            "extra_output_beats": res["extra_output_beats"],
            "protocol_errors": len(res["protocol_errors"]), "cycles": res["cycles"],
            "seconds": round(time.monotonic() - t, 2), "ok": bad == 0,
            "replay": f"attnhw soak --seed {seed} --replay {c}.{j}"}


def soak(words, seed, configs, simulator="verilator", json_path=None, replay=None, log=print,
         engine_words=0, engine_configs=2):
    """Run core jobs until ``words`` output words were compared (spread over
    ``configs`` random configurations), then engine jobs until ``engine_words``
    (over ``engine_configs``); or only the job ``replay`` (``"c.j"`` on the core,
    ``"engine:c.j"`` on the engine). Returns the summary."""
    if words < 1 or configs < 1 or engine_words < 0 or engine_configs < 1:
        raise InputError("--words and --configs must be at least 1, --engine-words at least 0")
    start = time.monotonic()
    records = []
    tops = {"core": (random_params, _run), "engine": (random_engine_params, _run_engine)}
    if replay is not None:
        top, _, cj = replay.rpartition(":")
        top = top or "core"
        try:
            if top not in tops:
                raise ValueError
            c, j = (int(x) for x in cj.split("."))
        except ValueError:
            raise InputError(f"--replay {replay!r}: expected CONFIG.JOB or engine:CONFIG.JOB, "
                             "e.g. 2.5") from None
        plan = [(top, c, [j], None)]
    else:
        plan = ([("core", c, None, words // configs) for c in range(configs)]
                + [("engine", c, None, engine_words // engine_configs)
                   for c in range(engine_configs) if engine_words])
    for top, c, jobs, quota in plan:
        make_params, run = tops[top]
        p = make_params(seed, c)
        log(f"{top} config {c}: {json.dumps(p.as_dict())}")
        done = 0
        for j in jobs if jobs is not None else itertools.count():
            if jobs is None and done >= quota:
                break
            rec = run(p, seed, c, j, simulator, log=lambda s: log("  " + s))
            rec["params"] = p.as_dict()
            records.append(rec)
            done += rec["words"]
            total = sum(r["words"] for r in records)
            log(f"  {top} job {c}.{j}: {rec['words']} words, {rec['mismatches']} mismatches, "
                f"{rec['cycles']} cycles, {rec['seconds']} s (total {total} words, "
                f"{time.monotonic() - start:.0f} s)" + ("" if rec["ok"] else
                                                        f"  FAILED: replay with `{rec['replay']}`"))

    def total(key, top=None):
        return sum(r[key] for r in records if top is None or r["top"] == top)

    summary = {
        "attnhw_version": __version__,
        "seed": seed, "configs": len(plan), "jobs": len(records),
        "words_compared": total("words"),
        "core_words": total("words", "core"), "engine_words": total("words", "engine"),
        "mismatches": total("mismatches"),
        "lost_rows": total("missing_rows"),
        "extra_beats": total("extra_output_beats"),
        "protocol_errors": total("protocol_errors"),
        "failed_jobs": [r["replay"] for r in records if not r["ok"]],
        "seconds": round(time.monotonic() - start, 1), "simulator": simulator,
        "records": records,
    }
    if json_path:
        atomic_write(json_path, lambda f: json.dump(summary, f, indent=1))
    return summary


def format_soak(s):
    return (f"soak seed {s['seed']}: {s['words_compared']} words compared ({s['core_words']} "
            f"core, {s['engine_words']} engine) over {s['jobs']} jobs "
            f"in {s['configs']} configurations, {s['mismatches']} mismatches, "
            f"{s['lost_rows']} lost rows, {s['extra_beats']} extra beats, "
            f"{s['protocol_errors']} protocol errors ({s['seconds']} s on {s['simulator']})"
            + "".join(f"\n  failed: {r}" for r in s["failed_jobs"]))
