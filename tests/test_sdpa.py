"""attnhw.sdpa against torch.nn.functional.scaled_dot_product_attention.

The hardware's output differs from torch's float attention by the int8 quantisation of
q, k, v plus the hardware's own rounding. The reference for "quantisation error" is an
ideal int8 pipeline: torch's float SDPA on the same quantised integers (``SdpaInfo``).
Each test asserts that the hardware is within a couple of output steps of that
pipeline, and that both are close to torch on the float inputs.
"""

import math
import os

import numpy as np
import pytest
import torch

import attnhw
from attnhw.golden.presets import preset
from torch_ideal import ideal_attention

F = torch.nn.functional
SIM = os.environ.get("SIM", "verilator")


def _randn(rng, *shape):
    return torch.from_numpy(rng.standard_normal(shape)).float()


def _ideal(info, attn_mask, is_causal, scale, ev):
    """torch's SDPA on the dequantised integers: the error int8 costs on its own."""
    return ideal_attention(info, ev, attn_mask, is_causal, scale)


def _check_close(out, ref, info, attn_mask=None, is_causal=False, scale=None):
    """``out`` within 2 output steps of the ideal int8 pipeline, and that pipeline
    itself close to torch's float result."""
    v_step = np.max(info.v_step)
    ev = ref.shape[-1]
    ideal = _ideal(info, attn_mask, is_causal, scale, ev)
    hw_vs_ideal = np.max(np.abs(out.double().numpy() - ideal)) / v_step
    ideal_vs_float = np.max(np.abs(ideal - ref.double().numpy())) / v_step
    assert hw_vs_ideal <= 2.0, hw_vs_ideal
    assert ideal_vs_float <= 8.0, ideal_vs_float
    return hw_vs_ideal


@pytest.mark.parametrize("quant", ["tensor", "head"])
def test_batch_heads_and_boolean_mask_match_torch(quant):
    rng = np.random.default_rng(1)
    q, k, v = _randn(rng, 2, 3, 7, 16), _randn(rng, 2, 3, 11, 16), _randn(rng, 2, 3, 11, 16)
    mask = torch.from_numpy(rng.random((2, 1, 7, 11)) < 0.7)
    mask[..., 0] = True                     # every query sees a key (torch: NaN otherwise)
    out, info = attnhw.sdpa(q, k, v, attn_mask=mask, quant=quant, return_info=True)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.shape == ref.shape == (2, 3, 7, 16)
    assert info.q_step.shape == ((2, 3) if quant == "head" else ())
    _check_close(out, ref, info, attn_mask=mask)


@pytest.mark.parametrize("L,S", [(5, 9), (9, 5), (6, 6)])
def test_is_causal_is_torchs_upper_left_alignment(L, S):
    rng = np.random.default_rng(L * 10 + S)
    q, k, v = _randn(rng, 2, L, 8), _randn(rng, 2, S, 8), _randn(rng, 2, S, 8)
    out, info = attnhw.sdpa(q, k, v, is_causal=True, return_info=True)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    _check_close(out, ref, info, is_causal=True)
    # Query 0 sees key 0 only: its output is v[0] up to quantisation.
    assert torch.allclose(out[:, 0], v[:, 0], atol=float(info.v_step))


def test_lower_right_causal_and_torchs_causal_bias():
    from torch.nn.attention.bias import causal_lower_right
    rng = np.random.default_rng(3)
    L, S = 3, 8
    q, k, v = _randn(rng, 4, L, 8), _randn(rng, 4, S, 8), _randn(rng, 4, S, 8)
    bias = causal_lower_right(L, S)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out, info = attnhw.sdpa(q, k, v, is_causal="lower_right", return_info=True)
    assert torch.equal(out, attnhw.sdpa(q, k, v, attn_mask=bias))
    mask = torch.ones(L, S, dtype=torch.bool).tril(S - L)
    _check_close(out, ref, info, attn_mask=mask)
    # The lower-right mask really differs from the upper-left one here.
    assert not torch.equal(out, attnhw.sdpa(q, k, v, is_causal=True))


def test_gqa_shares_each_kv_head_among_consecutive_query_heads():
    rng = np.random.default_rng(4)
    q, k, v = _randn(rng, 1, 6, 5, 8), _randn(rng, 1, 2, 7, 8), _randn(rng, 1, 2, 7, 8)
    ref = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    out, info = attnhw.sdpa(q, k, v, enable_gqa=True, quant="head", return_info=True)
    expanded = attnhw.sdpa(q, k.repeat_interleave(3, 1), v.repeat_interleave(3, 1), quant="head")
    assert torch.equal(out, expanded)
    _check_close(out, ref, info)
    with pytest.raises(ValueError, match="do not broadcast"):
        attnhw.sdpa(q, k, v)


def test_scale_value_width_and_float_mask_conventions():
    rng = np.random.default_rng(5)
    q, k, v = _randn(rng, 2, 4, 12), _randn(rng, 2, 6, 12), _randn(rng, 2, 6, 20)
    fmask = torch.zeros(4, 6)
    fmask[:, 3:] = -math.inf
    out, info = attnhw.sdpa(q, k, v, attn_mask=fmask, scale=0.3, return_info=True)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=fmask, scale=0.3)
    assert out.shape == (2, 4, 20) and info.params.head_dim == 20   # Ev > E: zero-padded
    _check_close(out, ref, info, attn_mask=fmask, scale=0.3)
    assert torch.equal(out, attnhw.sdpa(q, k, v, attn_mask=fmask == 0, scale=0.3))
    with pytest.raises(ValueError, match="no bias"):
        attnhw.sdpa(q, k, v, attn_mask=fmask + 0.5)
    with pytest.raises(ValueError, match="no dropout"):
        attnhw.sdpa(q, k, v, dropout_p=0.1)


def test_numpy_in_numpy_out_and_zero_rows_for_queries_that_see_nothing():
    rng = np.random.default_rng(6)
    q = rng.standard_normal((3, 8)).astype(np.float16)
    k, v = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    attend = np.ones((3, 5), dtype=bool)
    attend[1] = False
    out = attnhw.sdpa(q, k, v, attn_mask=attend)
    assert isinstance(out, np.ndarray) and out.dtype == np.float16
    assert np.all(out[1] == 0) and np.all(np.abs(out[0]) > 0)


def test_per_head_quantisation_helps_heads_of_different_magnitude():
    """Heads whose values differ by 100x: one step per tensor leaves the small head
    a few integer levels; one step per head keeps its full resolution."""
    rng = np.random.default_rng(7)
    q, k = _randn(rng, 2, 8, 16), _randn(rng, 2, 12, 16)
    v = _randn(rng, 2, 12, 16) * torch.tensor([1.0, 0.01])[:, None, None]
    ref = F.scaled_dot_product_attention(q, k, v)
    err = {m: (attnhw.sdpa(q, k, v, quant=m)[1] - ref[1]).abs().max().item() / 0.01
           for m in ("tensor", "head")}
    assert err["head"] * 10 < err["tensor"], err


def test_backends_give_identical_outputs(tmp_path):
    """Golden, the core's RTL and the engine's RTL on per-head quantised (batch, head)
    tensors with key padding and lower-right causal masks: identical arrays."""
    p = preset("test-engine")
    rng = np.random.default_rng(8)
    q, k, v = (rng.standard_normal(s) for s in ((2, 2, 5, 8), (2, 2, 7, 8), (2, 2, 7, 8)))
    q[1] *= 4.0                               # a different step per head
    attend = rng.random((2, 2, 1, 7)) < 0.7
    outs = {b: attnhw.sdpa(q, k, v, attn_mask=attend, is_causal="lower_right", quant="head",
                           backend=b, params=p, simulator=SIM)
            for b in ("golden", "rtl", "engine")}
    assert np.array_equal(outs["golden"], outs["rtl"])
    assert np.array_equal(outs["golden"], outs["engine"])
    assert np.count_nonzero(outs["golden"]) > outs["golden"].size // 2
    with pytest.raises(ValueError, match="per-key padding and causal"):
        attnhw.sdpa(q, k, v, attn_mask=rng.random((5, 7)) < 0.5, backend="engine", params=p)


def test_engine_loads_each_kv_head_once_for_its_query_heads(monkeypatch):
    """enable_gqa on the engine: one pass per key/value head (GROUP_ROWS = L) for its
    group of query heads, causal per query head; the same numbers as golden (which
    attends each query head to its copy of the K/V)."""
    from attnhw.sim import runner
    p = preset("test-engine")
    rng = np.random.default_rng(12)
    q = rng.standard_normal((2, 4, 3, 8))             # 4 query heads
    k, v = rng.standard_normal((2, 2, 6, 8)), rng.standard_normal((2, 2, 6, 8))  # 2 K/V heads
    passes = []
    real = runner.run_engine_job

    def spy(params, heads, **kw):
        passes.extend(heads)
        return real(params, heads, **kw)
    monkeypatch.setattr(runner, "run_engine_job", spy)
    kw = dict(is_causal="lower_right", enable_gqa=True, params=p)
    got = attnhw.sdpa(q, k, v, backend="engine", simulator=SIM, **kw)
    assert np.array_equal(got, attnhw.sdpa(q, k, v, **kw))
    assert len(passes) == 2 * 2                        # one K/V load per (batch, K/V head)
    assert all(h["group_rows"] == 3 and len(h["q"]) == 2 * 3 and len(h["k"]) == 6
               for h in passes)


def test_sdpa_ideal_is_torchs_float_attention_on_the_same_integers_rounded():
    rng = np.random.default_rng(9)
    q, k, v = (_randn(rng, 2, 3, n, 16).double() for n in (5, 9, 9))
    mask = torch.from_numpy(rng.random((5, 9)) < 0.6)
    mask[:, 2] = True
    _, info = attnhw.sdpa(q, k, v, attn_mask=mask, quant="head", return_info=True)
    ideal = attnhw.sdpa_ideal(q, k, v, attn_mask=mask, quant="head")
    exact = _ideal(info, mask, False, None, 16)             # torch, output not rounded
    step = info.v_step[..., None, None]
    assert np.all(np.abs(ideal.numpy() - exact) <= step / 2 + 1e-12)
    np.testing.assert_allclose(ideal.numpy() / step, np.round(ideal.numpy() / step), atol=1e-9)
    assert not torch.allclose(ideal, F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                              atol=1e-6)
