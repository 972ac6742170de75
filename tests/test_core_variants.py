"""Every exp and normalisation method in the integrated core (cocotb on Verilator):
every output word equals the golden model of that method, under random input gaps
and output stalls. Three small builds cover the four exp methods (the default
``interp`` is in ``test_core_rtl``) and the three normalisers."""

import os

import numpy as np
import pytest

from golden.params import AttnParams
from sim.runner import run_job
from sim.scenarios import head_job, scenario_job

SIM = os.environ.get("SIM", "verilator")
SMALL = dict(head_dim=8, lanes=4, max_seq_len=64)
VARIANTS = {
    "lut_recip_nr": AttnParams(**SMALL, exp_method="lut", norm_method="recip_nr"),
    "poly_recip_lut": AttnParams(**SMALL, exp_method="poly", norm_method="recip_lut",
                                 recip_table_bits=4),
    "shift_divide_w4": AttnParams(**SMALL, exp_method="shift", data_width=4),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_matches_golden(name, tmp_path):
    p = VARIANTS[name]
    rng = np.random.default_rng(21)
    job, names = scenario_job(p, rng, gap=0.3, stall=0.4, seed=21)
    res = run_job(job, simulator=SIM, work_dir=tmp_path)
    assert res["missing_rows"] == 0 and res["protocol_errors"] == []
    assert res["words_compared"] == len(names) * p.head_dim
    bad = sorted({names[i] for i in np.flatnonzero((res["o"] != res["expect"]).any(axis=1))})
    assert res["mismatches"] == 0, f"mismatching scenarios: {bad}"
    assert not dict(zip(names, res["o"]))["all_masked"].any()
    # Random heads at several softmax temperatures, back to back.
    for t, temp in enumerate((0.5, 4.0)):
        job, _ = head_job(p, np.random.default_rng(30 + t), 12, 40, gap=0.2, stall=0.3,
                          seed=30 + t, temperature=temp, mask_prob=0.3)
        res = run_job(job, simulator=SIM, work_dir=tmp_path / f"head{t}")
        assert res["mismatches"] == 0 and res["missing_rows"] == 0
        assert res["words_compared"] == 12 * p.head_dim
