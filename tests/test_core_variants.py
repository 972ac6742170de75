"""Every exp and normalisation method in the integrated core (cocotb on Verilator) on
random heads with masks at a flat and a peaked softmax temperature, under random
input gaps and output stalls: every output word equals the golden model of that
method. (The directed scenarios run for these builds in ``test_core_rtl``.)"""

import os

import numpy as np
import pytest

from attnhw.sim.runner import run_job
from attnhw.sim.scenarios import head_job
from tests.test_core_rtl import VARIANTS

SIM = os.environ.get("SIM", "verilator")


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("temperature", [0.5, 4.0])
def test_variant_random_masked_heads(name, temperature, tmp_path):
    p = VARIANTS[name]
    seed = 30 + int(temperature)
    job, _ = head_job(p, np.random.default_rng(seed), 12, 40, gap=0.2, stall=0.3, seed=seed,
                      temperature=temperature, mask_prob=0.3)
    res = run_job(job, simulator=SIM, work_dir=tmp_path)
    assert res["protocol_errors"] == [] and res["missing_rows"] == 0
    assert res["words_compared"] == 12 * p.head_dim
    assert res["mismatches"] == 0
