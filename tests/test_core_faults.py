"""Protocol faults on the integrated core (cocotb, Verilator): misplaced and missing
``last``, a reset in the middle of a query load, a key/value stream and an output
row, and backpressure or starvation held for thousands of cycles. Every output word
is compared with the golden model and no beat may be lost or duplicated."""

import os

import numpy as np
import pytest

from attnhw.golden.framing import split_queries
from attnhw.golden.params import AttnParams
from attnhw.sim.jobs import with_faults
from attnhw.sim.runner import run_job
from attnhw.sim.scenarios import head_job, scenario_job

SIM = os.environ.get("SIM", "verilator")
# Small: 3 beats per key (a slice count that is not a power of two: `attnhw soak` found
# the query RAM too small for it), 32 keys at most, so `last` can be lost quickly.
P = AttnParams(head_dim=12, lanes=4, max_seq_len=32)


def _check(res, rows):
    assert res["rows_out"] == rows and res["missing_rows"] == 0
    assert res["extra_output_beats"] == 0
    assert res["protocol_errors"] == [] and res["last_flag_errors"] == 0
    assert res["mismatches"] == 0
    assert res["words_compared"] == rows * P.head_dim
    assert res["error_flags"] == res["error_flags_expected"]


def test_misplaced_last_is_ignored_and_flagged(tmp_path):
    job, _ = head_job(P, np.random.default_rng(1), 6, 5, gap=0.2, stall=0.3, seed=1)
    # Beat 0 of key 2 of query 0 and of key 4 of query 3 (not a key's final beat).
    flips = [2 * P.slices, 3 * 5 * P.slices + 4 * P.slices]
    res = run_job(with_faults(job, last_flips=flips), simulator=SIM, work_dir=tmp_path)
    assert res["error_flags"] == {"last_misplaced": 1, "too_many_keys": 0}
    _check(res, 6)


def test_missing_last_closes_the_query_at_max_seq_len(tmp_path):
    # 12 keys per query; queries 0..3 lose their `last`: 48 keys run together, the
    # core closes a query at 32 keys and the next 16 keys become the next query.
    job, _ = head_job(P, np.random.default_rng(2), 8, 12, gap=0.2, stall=0.3, seed=2)
    flips = [(i + 1) * 12 * P.slices - 1 for i in range(3)]
    faulty = with_faults(job, last_flips=flips)
    last = np.zeros(8 * 12 * P.slices, dtype=int)
    last[np.arange(1, 9) * 12 * P.slices - 1] = 1
    last[flips] = 0
    bounds, errors = split_queries(P, last)
    assert [(b - a) // P.slices for a, b in bounds] == [32, 16, 12, 12, 12, 12]
    assert errors == {"last_misplaced": 0, "too_many_keys": 1}
    res = run_job(faulty, simulator=SIM, work_dir=tmp_path)
    assert res["error_flags"] == {"last_misplaced": 0, "too_many_keys": 1}
    _check(res, len(bounds))


@pytest.mark.parametrize("port,count", [("q", P.slices + 1), ("kv", 7 * P.slices + 1),
                                        ("o", P.slices // 2 + P.slices)])
def test_reset_mid_job_leaks_nothing(port, count, tmp_path):
    """Reset while a query loads, mid key stream, mid output row: the core is idle
    afterwards and the next job comes out exactly as if it had run alone."""
    rng = np.random.default_rng(3)
    prelude, _ = head_job(P, rng, 4, 9, seed=3)
    job, _ = scenario_job(P, rng, gap=0.3, stall=0.4, seed=4)
    job = with_faults(job, prelude=prelude, reset_port=port, reset_count=count)
    res = run_job(job, simulator=SIM, work_dir=tmp_path)
    assert res["reset"]["beats_before_reset"] == count
    assert res["reset"]["idle_errors"] == []
    _check(res, len(job["q"]))


def test_backpressure_and_starvation_held_for_thousands_of_cycles(tmp_path):
    job, _ = head_job(P, np.random.default_rng(5), 12, 20, gap=0.1, stall=0.2, seed=5)
    # Output held off for 3000 cycles twice (the pipeline and FIFOs fill and the inputs
    # stall), inputs starved for 3000 cycles between; the job outlasts all three.
    faulty = with_faults(job, o_hold=[(50, 3000), (6200, 3000)], starve=[(3100, 3000)])
    res = run_job(faulty, simulator=SIM, work_dir=tmp_path)
    _check(res, 12)
    assert res["cycles"] > 9000, "the hold windows were not applied"
