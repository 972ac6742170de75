"""attnhw.attention_output (attention + output projection, golden) against float64 and
against an ideal int8 pipeline: the same quantised q, k, v and W, float softmax and
float accumulation, the output rounded to the same output step.

The hardware's projection takes the attention rows with 4 fraction bits below v's step
by default (out_frac_bits); rounded to int8 (out_frac_bits 0) they cost 1.57x the ideal
pipeline's mean error on the random case here, with 4 bits 1.02x (docs/numerics.md)."""

import numpy as np
import pytest
import torch

import attnhw
from torch_ideal import ideal_attention

F = torch.nn.functional


def _case(rng, B=2, H=4, N=12, d=16, d_out=24):
    q, k, v = (torch.from_numpy(rng.standard_normal((B, H, N, d))) for _ in range(3))
    W = rng.standard_normal((d_out, H * d)) / np.sqrt(H * d)
    b = rng.standard_normal(d_out) * 0.1
    return q, k, v, W, b


def _ideal(info, W_int_rows, w_step, c_step, b, out_step, causal):
    """float SDPA on the dequantised q, k, v, then the dequantised weights, rounded."""
    c = ideal_attention(info["sdpa"], info["c_int"].shape[-1], is_causal=causal)  # (B,H,N,d)
    B, H, N, d = c.shape
    rows = np.moveaxis(c, 1, 2).reshape(B, N, H * d)
    y = np.zeros((B, N, len(w_step[0])))
    for i in range(B):
        # W_eff = W_int · w_step (per row) = W · c_step (per head): undo the head steps.
        W_deq = W_int_rows[i] * w_step[i][:, None] / np.repeat(c_step[i], d)[None, :]
        y[i] = rows[i] @ W_deq.T + b
    return np.floor(y / out_step + 0.5) * out_step


@pytest.mark.parametrize("quant,causal", [("tensor", False), ("head", True)])
def test_output_projection_error_is_within_the_ideal_pipelines(quant, causal):
    rng = np.random.default_rng(11)
    q, k, v, W, b = _case(rng)
    y, info = attnhw.attention_output(q, k, v, W, b, is_causal=causal, quant=quant,
                                      return_info=True)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 12, 24)
    c = F.scaled_dot_product_attention(q, k, v, is_causal=causal).numpy()
    exact = np.moveaxis(c, 1, 2).reshape(2, 12, -1) @ W.T + b
    proj = info["projection"]
    ideal = _ideal(info, [p["W_int"] for p in proj], [p["w_step"] for p in proj],
                   info["c_step"], b, info["out_step"], causal)
    hw_err = np.abs(y.numpy() - exact).mean() / info["out_step"]
    ideal_err = np.abs(ideal - exact).mean() / info["out_step"]
    assert 0 < hw_err <= 1.2 * ideal_err, (hw_err, ideal_err)
    assert np.abs(info["y_int"]).max() <= 127


def test_the_reports_pipelines_are_the_tests():
    """attnhw.proj_accuracy's errors (the report behind make proj-accuracy) equal the
    ones this file computes with torch's SDPA: hardware and ideal int8 pipeline."""
    from attnhw.proj_accuracy import measure
    rng = np.random.default_rng(11)
    q, k, v, W, b = _case(rng)
    m = measure(q.numpy(), k.numpy(), v.numpy(), W, b, "head", out_frac_bits=4)
    y, info = attnhw.attention_output(q, k, v, W, b, quant="head", return_info=True)
    c = F.scaled_dot_product_attention(q, k, v).numpy()
    exact = np.moveaxis(c, 1, 2).reshape(2, 12, -1) @ W.T + b
    proj = info["projection"]
    ideal = _ideal(info, [p["W_int"] for p in proj], [p["w_step"] for p in proj],
                   info["c_step"], b, info["out_step"], False)
    np.testing.assert_allclose(m["hw"], np.abs(y.numpy() - exact) / info["out_step"], atol=1e-9)
    np.testing.assert_allclose(m["ideal"], np.abs(ideal - exact) / info["out_step"], atol=1e-9)
    assert m["hw"].mean() > 0 and m["ideal"].mean() > 0


def test_given_output_step_and_bad_weights():
    rng = np.random.default_rng(12)
    q, k, v, W, b = _case(rng, B=1, H=2, N=4, d=8, d_out=5)
    y, info = attnhw.attention_output(q, k, v, W, b, out_step=0.01, return_info=True)
    assert info["out_step"] == 0.01
    np.testing.assert_allclose(y.numpy() / 0.01, np.round(y.numpy() / 0.01), atol=1e-9)
    with pytest.raises(ValueError, match=r"W has shape \(5, 15\)"):
        attnhw.attention_output(q, k, v, W[:, :15], b)
    with pytest.raises(ValueError, match="W contains NaN"):
        attnhw.attention_output(q, k, v, np.full_like(W, np.nan), b)


def test_engine_backend_gives_the_golden_layer_output():
    """The engine's RTL with its projection unit (tiles of 2 queries, 4 outputs at
    once) gives the golden layer output word for word: key padding and decoding-
    aligned causal masks, two batch elements (per-head quantisation: weights per batch
    element, loaded once per run)."""
    rng = np.random.default_rng(21)
    q, k, v = (rng.standard_normal((2, 2, n, 8)) for n in (5, 7, 7))
    W, b = rng.standard_normal((8, 16)) / 4, rng.standard_normal(8) * 0.1
    attend = rng.random((2, 2, 1, 7)) > 0.2
    params = dict(head_dim=8, lanes=4, max_seq_len=16, block=2, proj_lanes=4, tile_rows=2)
    kw = dict(attn_mask=attend, is_causal="lower_right", quant="head", params=params)
    golden = attnhw.attention_output(q, k, v, W, b, **kw)
    engine = attnhw.attention_output(q, k, v, W, b, backend="engine", **kw)
    assert np.array_equal(engine, golden) and np.abs(golden).max() > 0


def test_projection_backends_are_golden_and_engine():
    q = np.zeros((1, 2, 3, 8))
    with pytest.raises(ValueError, match="runs on golden or engine"):
        attnhw.attention_output(q, q, q, np.zeros((4, 16)), backend="rtl")
