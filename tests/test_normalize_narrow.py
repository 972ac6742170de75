"""attnhw.hdl.normalize_narrow: the splitter's parts and the joiner's slices, under
gaps and stalls (the narrow normaliser as a whole: tests/test_unit_softmax_acc_norm.py)."""

import numpy as np

from attnhw.golden.params import AttnParams
from attnhw.hdl.normalize_narrow import SliceJoiner, SliceSplitter
from tests.unit_sim import run_stream_unit

P = AttnParams(head_dim=8, lanes=8, max_seq_len=64, norm_lanes=2)   # 4 parts per slice


def test_splitter_sends_each_slice_in_lane_order_last_on_its_final_part():
    rng = np.random.default_rng(3)
    hi = 1 << (P.acc_width - 1)
    slices = [{"acc": rng.integers(-hi, hi, P.lanes).tolist(),
               "sum": int(rng.integers(1 << P.sum_width)), "last": int(n % 3 == 2)}
              for n in range(12)]
    expect = [{"acc": s["acc"][k:k + 2], "sum": s["sum"], "last": int(s["last"] and k == 6)}
              for s in slices for k in range(0, P.lanes, 2)]
    assert run_stream_unit(SliceSplitter(P), slices, len(expect), rng) == expect


def test_joiner_puts_parts_together_in_lane_order_last_from_the_final_part():
    rng = np.random.default_rng(4)
    hi = 1 << (P.out_width - 1)
    outs = rng.integers(-hi, hi, (12, P.lanes))
    parts = [{"o": outs[n, k:k + 2].tolist(), "last": int(n % 3 == 2 and k == 6)}
             for n in range(12) for k in range(0, P.lanes, 2)]
    expect = [{"o": outs[n].tolist(), "last": int(n % 3 == 2)} for n in range(12)]
    assert run_stream_unit(SliceJoiner(P), parts, len(expect), rng) == expect
