"""Icarus and Verilator give identical outputs, cycle for cycle, on the same vectors
(same job, same seed for gaps and stalls). `.ci/run` installs iverilog and sets
ATTNHW_REQUIRE_ICARUS=1, so in CI a missing Icarus fails instead of skipping."""

import numpy as np

from attnhw.golden.params import AttnParams
from attnhw.sim.jobs import with_faults
from attnhw.sim.runner import run_job
from attnhw.sim.scenarios import head_job, scenario_job
from tests.conftest import need_icarus

P = AttnParams(head_dim=8, lanes=4, max_seq_len=32)


def test_icarus_equals_verilator(tmp_path):
    need_icarus()
    rng = np.random.default_rng(21)
    job, _ = scenario_job(P, rng, gap=0.3, stall=0.4, seed=21)
    prelude, _ = head_job(P, rng, 3, 6, seed=22)
    # A misplaced `last` and a reset mid key stream, too: the fault paths must agree.
    job = with_faults(job, last_flips=[0], prelude=prelude, reset_port="kv", reset_count=9)
    runs = {sim: run_job(job, simulator=sim, work_dir=tmp_path / sim)
            for sim in ("verilator", "icarus")}
    ver, ica = runs["verilator"], runs["icarus"]
    for res in (ver, ica):
        assert res["mismatches"] == 0 and res["missing_rows"] == 0
    assert ver["words_compared"] == ica["words_compared"] == len(job["q"]) * P.head_dim
    assert np.array_equal(ver["o"], ica["o"])
    assert ver["row_done_cycles"] == ica["row_done_cycles"], "different cycle timing"
    assert ver["error_flags"] == ica["error_flags"] == {"last_misplaced": 1, "too_many_keys": 0}
