"""The integrated core in cocotb on Verilator (or Icarus with SIM=icarus): every
output word equals the golden model, under random input gaps and output stalls,
and back-to-back queries stream at full rate."""

import os

import numpy as np
import pytest

from attnhw.golden.params import AttnParams
from attnhw.golden.presets import preset
from attnhw.sim.runner import run_job
from attnhw.sim.scenarios import head_job, scenario_job

SIM = os.environ.get("SIM", "verilator")

CONFIGS = {
    "default_d64_w8_l16": AttnParams(),
    "w16_d16_l4": AttnParams(head_dim=16, data_width=16, lanes=4, max_seq_len=256),
    "lanes1_d8": AttnParams(head_dim=8, lanes=1, max_seq_len=64),
    "lanes_eq_d16": AttnParams(head_dim=16, lanes=16, max_seq_len=64),
    # The configuration `make synth` places on an iCE40 UP5K.
    "ice40_small": preset("ice40"),
}
# Every exp and normalisation method (the default interp + divide is above) in three
# small builds; tests/test_core_variants.py adds random masked heads for them.
VARIANTS = {
    "lut_recip_nr": AttnParams(head_dim=8, lanes=4, max_seq_len=64, exp_method="lut",
                               norm_method="recip_nr"),
    "poly_recip_lut": AttnParams(head_dim=8, lanes=4, max_seq_len=64, exp_method="poly",
                                 norm_method="recip_lut", recip_table_bits=4),
    # 4-bit data, outputs with 2 more fraction bits (s6.2, out_frac_bits).
    "shift_divide_w4_f2": AttnParams(head_dim=8, lanes=4, max_seq_len=64, exp_method="shift",
                                     data_width=4, out_frac_bits=2),
}
CONFIGS.update(VARIANTS)


@pytest.mark.parametrize("name", CONFIGS)
def test_scenarios_with_random_stalls(name, tmp_path):
    p = CONFIGS[name]
    rng = np.random.default_rng(11)
    job, names = scenario_job(p, rng, gap=0.3, stall=0.4, seed=11)
    res = run_job(job, simulator=SIM, work_dir=tmp_path)
    assert res["missing_rows"] == 0
    assert res["protocol_errors"] == []
    assert res["last_flag_errors"] == 0
    assert res["words_compared"] == len(names) * p.head_dim
    bad = sorted({names[i] for i in np.flatnonzero((res["o"] != res["expect"]).any(axis=1))})
    assert res["mismatches"] == 0, f"mismatching scenarios: {bad}"
    # The directed cases produce what they should, independent of the model:
    rows = dict(zip(names, res["o"]))
    assert not rows["all_masked"].any(), "an all-masked row outputs zeros"
    lo = -(1 << (p.data_width - 1)) << p.out_frac_bits       # v's minimum, in s(w+f).f
    if p.norm_method != "recip_lut":        # a table-only reciprocal is not exact
        assert (rows["extreme_min_scale_max"] == lo).all(), "softmax of equal v is that v"


@pytest.mark.parametrize("name", CONFIGS)
def test_back_to_back_full_rate(name, tmp_path):
    p = CONFIGS[name]
    seq_len = max(16, p.data_width + 2)
    queries = 8
    job, _ = head_job(p, np.random.default_rng(12), queries, seq_len, seed=12)
    res = run_job(job, simulator=SIM, work_dir=tmp_path)
    assert res["mismatches"] == 0 and res["missing_rows"] == 0
    # No idle cycle on the key stream once it started: the next query is preloaded.
    assert res["kv_idle_cycles"] == 0
    floor = queries * seq_len * p.slices
    latency = max(res["latencies"])
    assert res["cycles"] <= 1.1 * floor + latency + 2 * p.slices + 4
