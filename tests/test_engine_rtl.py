"""The engine's AXI4-Stream top level in cocotb on Verilator (or Icarus with
SIM=icarus): several heads with random masks and CSR settings, random gaps on both
input streams and random backpressure; every output word, row-end (tuser) and
head-end (tlast) flag equals attnhw.golden.engine, and the CSR identification registers and
STATUS read back as they should."""

import os

import numpy as np
import pytest

from attnhw.golden.params import AttnParams
from attnhw.sim.engine_job import misplaced_last_candidates, random_head
from attnhw.sim.runner import run_engine_job

SIM = os.environ.get("SIM", "verilator")

CONFIGS = {
    "d8_l4_w6_block2": AttnParams(head_dim=8, lanes=4, data_width=6, max_seq_len=16, block=2),
    "d16_l4_block3": AttnParams(head_dim=16, lanes=4, max_seq_len=32, block=3),
    "d8_l8_block1": AttnParams(head_dim=8, lanes=8, max_seq_len=16, block=1),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_engine_heads_with_random_stalls(name, tmp_path):
    p = CONFIGS[name]
    rng = np.random.default_rng(sorted(CONFIGS).index(name))
    n = p.max_seq_len
    shapes = [(1, 1), (2 * p.block + 1, n), (p.block, n // 2)] + [
        (int(rng.integers(1, 3 * p.block + 2)), int(rng.integers(1, n + 1))) for _ in range(5)]
    heads = [random_head(p, rng, nq, nk, mask_prob=0.25, temperature=float(rng.choice([0.5, 2, 8])))
             for nq, nk in shapes]
    gap, stall = (0.0, 0.0) if name.endswith("block1") else (0.3, 0.4)
    res = run_engine_job(p, heads, gap=gap, stall=stall, seed=5, simulator=SIM,
                         work_dir=tmp_path, log=lambda *a: None)
    assert res["mismatches"] == 0 and res["rows_out"] == res["rows_expected"] > 0
    assert res["flags_ok"] and not res["protocol_errors"]


@pytest.mark.parametrize("name", ["d8_l4_w6_block2", "d16_l4_block3"])
def test_engine_grouped_query_heads_with_causal_masks(name, tmp_path):
    """Grouped-query attention: the query heads of a group pass over their shared K/V as
    one head, GROUP_ROWS queries each, with causal masks and offsets per query head
    (attnhw.golden.engine.query_index), under gaps and backpressure."""
    from attnhw.golden.engine import engine_mask
    p = CONFIGS[name]
    rng = np.random.default_rng(21)
    heads = []
    for groups, nq, nk in ((2, 3, 7), (4, 2, 5), (3, 5, p.max_seq_len)):
        h = random_head(p, rng, nq, nk, mask_prob=0.1, modes=False, groups=groups)
        h.update(causal=True, offset=nk - nq)
        heads.append(h)
        # The groups change the masks: across the group, later query heads would see more.
        assert not np.array_equal(engine_mask(groups * nq, nk, p, causal=True, offset=nk - nq),
                                  engine_mask(groups * nq, nk, p, causal=True, offset=nk - nq,
                                              group_rows=nq))
    heads.append(random_head(p, rng, 4, 6, mask_prob=0.2))         # and an ungrouped head after
    res = run_engine_job(p, heads, gap=0.3, stall=0.4, seed=8, simulator=SIM,
                         work_dir=tmp_path, log=lambda *a: None)
    assert res["mismatches"] == 0 and res["rows_out"] == res["rows_expected"] > 0
    assert res["flags_ok"] and not res["protocol_errors"]


@pytest.mark.slow
def test_engine_long_head(tmp_path):
    """A head of 200 queries over 1000 keys on one core: its 200,000 compute cycles
    dwarf its 1,200 input beats (the testbench's cycle budget once ran out on such heads).
    ~90 s with its own build: run by `make soak`."""
    p = AttnParams(head_dim=8, lanes=8, max_seq_len=1024, block=1)
    rng = np.random.default_rng(7)
    heads = [random_head(p, rng, 200, 1000, mask_prob=0.1)]
    res = run_engine_job(p, heads, gap=0.1, stall=0.1, seed=3, simulator=SIM,
                         work_dir=tmp_path, log=lambda *a: None)
    assert res["mismatches"] == 0 and res["rows_out"] == res["rows_expected"] == 200
    assert res["flags_ok"] and not res["protocol_errors"]
    assert res["cycles"] >= 200 * 1000


def test_engine_flags_misplaced_tlast_in_status(tmp_path):
    """A tlast on a beat that does not end a key (kv) or a query (q) is ignored: every
    row is still golden's, STATUS shows bits 0 and 2 through the CSR port, and a
    write clears them; no output beat follows the last row."""
    p = CONFIGS["d8_l4_w6_block2"]
    rng = np.random.default_rng(11)
    heads = [random_head(p, rng, 3, 5, mask_prob=0.2), random_head(p, rng, 4, 7)]
    kv_ok, q_ok = misplaced_last_candidates(p, heads)
    res = run_engine_job(p, heads, gap=0.2, stall=0.3, seed=2, simulator=SIM,
                         work_dir=tmp_path, log=lambda *a: None,
                         kv_last_flips=[int(kv_ok[0]), int(kv_ok[-1])], q_last_flips=[int(q_ok[3])])
    assert res["mismatches"] == 0 and res["rows_out"] == res["rows_expected"] == 7
    assert res["status"] == 0b101 and res["status_after_clear"] == 0
    assert res["extra_output_beats"] == 0
