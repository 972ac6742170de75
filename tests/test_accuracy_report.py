"""The peers' numerics on cases worked out by hand, and `attnhw accuracy` end to end
(small, without synthesis)."""

import json
import pathlib

import numpy as np

from attnhw.accuracy import DISTRIBUTIONS, our_variants, run_accuracy
from attnhw.golden.attention import softmax_probs
from attnhw.golden.params import AttnParams
from attnhw.golden.peers import PEERS, hls4ml_softmax_stable, ibert_int_softmax, softermax

EQUAL = np.zeros((1, 4), dtype=np.int64)       # four equal scores: 1/4 each
NONE = np.zeros((1, 4), dtype=bool)


def test_hls4ml_equal_scores():
    # exp(0) = 1.0 (raw 1024), sum 4.0 (raw 4096, index 16 = 4.0), 1/4 = raw 256,
    # 1024 * 256 >> (20 - 8) = 64, i.e. 0.25 in u0.8.
    assert hls4ml_softmax_stable(EQUAL, NONE, 16, 8).tolist() == [[64] * 4]


def test_ibert_equal_scores():
    # Each exponential requantises to 32767; floor(2^32 / (4 * 32767)) = 32769 and
    # 32767 * 32769 = 2^30 - 1, so the output is floor((2^30 - 1) / 2^24) = 63.
    assert ibert_int_softmax(EQUAL, NONE, 16, 8).tolist() == [[63] * 4]


def test_softermax_equal_scores_and_masks():
    out = softermax(EQUAL, NONE, 16, 8)
    assert np.all(np.abs(out - 64) <= 1)
    masked = np.array([[False, True, True, True]])
    for peer in PEERS.values():
        o = peer["fn"](EQUAL, masked, 16, 8)
        assert o[0, 1:].tolist() == [0, 0, 0] and o[0, 0] >= 255, peer
        assert peer["fn"](EQUAL, np.ones((1, 4), bool), 16, 8).tolist() == [[0] * 4]


def test_our_probabilities_equal_scores():
    p = AttnParams()
    assert softmax_probs(EQUAL, p, NONE, 8).tolist() == [[64] * 4]
    assert softmax_probs(EQUAL, p, np.ones((1, 4), bool), 8).tolist() == [[0] * 4]


def test_accuracy_report_end_to_end(tmp_path):
    p = AttnParams()
    r = run_accuracy(p, elements=1500, out_dir=tmp_path, synth=False, log=lambda *_: None)
    n_ours, n_peers = len(our_variants(p)), len(PEERS)
    assert len(r["records"]) == len(DISTRIBUTIONS) * (n_ours + n_peers)
    on_disk = json.loads((tmp_path / "accuracy.json").read_text())
    assert on_disk["targets"] == r["targets"] and len(on_disk["summary"]) == n_ours + n_peers
    for png in ("pareto.png", "error_vs_seq_len.png", "error_histograms.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "accuracy.md").read_text()
    assert "hls4ml softmax_stable" in md and "shift+divide" in md
    # The coarse methods must measure worse than the default: the report can tell them apart.
    worst = {s["numerics"]: s["max_abs_err_lsb"] for s in r["summary"] if s["kind"] == "attnhw"}
    assert worst["shift+divide"] > 2 > 0.51 >= worst[our_variants(p)[0][0]]


def test_readme_numerics_tables_match_the_report():
    """docs/numerics.md's tables are the committed report's (`make accuracy` writes both)."""
    from attnhw.accuracy_report import README_BEGIN, README_END, readme_tables
    root = pathlib.Path(__file__).resolve().parent.parent
    readme = (root / "docs" / "numerics.md").read_text()
    between = readme.split(README_BEGIN)[1].split(README_END)[0].strip()
    assert between == readme_tables((root / "docs" / "accuracy" / "accuracy.md").read_text())
