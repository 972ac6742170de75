"""The engine with its output projection (``--out-features``) in cocotb on Verilator:
a layer of several batch elements and heads with random padding, key limits and
causal offsets passes in tiles, the weights through the load stream; every output
word and flag equals golden's projection of golden's attention, under random gaps
and backpressure, with nothing extra after the last beat."""

import os

import numpy as np
import pytest

from attnhw.golden.params import AttnParams
from attnhw.sim.engine_job import random_head
from attnhw.sim.proj_job import random_projection, tile_passes
from attnhw.sim.runner import run_engine_job

SIM = os.environ.get("SIM", "verilator")
# Rows with 3 fraction bits below v's step (s11.3) into the projection; a normaliser
# of 2 lanes (each slice in two parts), as a long-head configuration would have.
P = AttnParams(head_dim=8, lanes=4, max_seq_len=16, block=2, out_features=12, proj_heads=3,
               proj_lanes=4, tile_rows=3, out_frac_bits=3, norm_lanes=2)


@pytest.mark.parametrize("gap, stall", [(0.0, 0.0), (0.3, 0.4)])
def test_engine_with_projection_matches_golden(gap, stall, tmp_path):
    rng = np.random.default_rng(int(10 * gap))
    op = P.out_proj
    # Batch element 0: 7 queries (tiles of 3, 3, 1), 11 keys; element 1: 4 queries, 16 keys.
    layer = [[random_head(P, rng, nq, nk, mask_prob=0.2, temperature=float(rng.choice([0.5, 4])))
              for _ in range(op.heads)] for nq, nk in ((7, 11), (4, 16))]
    layer[0][0].update(causal=True, offset=11 - 7, key_limit=0)    # decoding alignment
    layer[1][2].update(causal=True, offset=-1, key_limit=0)        # query 0 sees no key
    passes = tile_passes(layer, op)
    integers = random_projection(op, rng)
    res = run_engine_job(P, passes, gap=gap, stall=stall, seed=4, simulator=SIM,
                         work_dir=tmp_path, log=lambda *a: None, projection=integers)
    assert res["rows_expected"] == 11 and res["rows_out"] == 11
    assert res["words_compared"] == 11 * op.d_out and res["mismatches"] == 0
    assert res["flags_ok"] and not res["protocol_errors"] and res["extra_output_beats"] == 0
    assert res["status"] == 0
    y = res["o"]
    assert np.array_equal(y, res["expect"]) and 0 < np.mean(np.abs(y) == 127) < 0.5
