"""attnhw.KVCache: a decode loop over a cache gives attnhw.sdpa's numbers over the whole
cache (same steps: the new rows stay within the prompt's range), grouped-query heads
as torch's enable_gqa; rows beyond the steps saturate and are counted; a full cache
refuses a step and keeps its rows."""
import numpy as np
import pytest

import attnhw
from attnhw.golden.quantize import quantize_with_step


def _prompt(rng, B, H, S, d):
    k, v = rng.standard_normal((B, H, S, d)), rng.standard_normal((B, H, S, d))
    k[..., 0, 0], v[..., 0, 0] = 6.0, -6.0      # each head's largest value is the prompt's
    return k, v


@pytest.mark.parametrize("quant", ["tensor", "head"])
def test_decode_gives_sdpa_over_the_whole_cache(quant):
    rng = np.random.default_rng(4)
    B, Hkv, G, S, d, steps = 2, 2, 4, 5, 16, 24
    k, v = _prompt(rng, B, Hkv, S, d)
    cache = attnhw.KVCache(k, v, max_seq_len=S + steps, quant=quant)
    for t in range(steps):
        q = rng.standard_normal((B, Hkv * G, 1, d))
        k_new, v_new = (rng.standard_normal((B, Hkv, 1, d)) for _ in range(2))
        got = cache.step(q, k_new, v_new)
        k, v = np.concatenate([k, k_new], axis=2), np.concatenate([v, v_new], axis=2)
        want = attnhw.sdpa(q, k, v, is_causal="lower_right", enable_gqa=True, quant=quant)
        assert np.array_equal(got, want), t
        assert got.shape == (B, Hkv * G, 1, d) and cache.length == S + t + 1
    assert cache.saturated == 0


def test_rows_beyond_the_steps_saturate_and_are_counted():
    rng = np.random.default_rng(5)
    k, v = _prompt(rng, 1, 1, 4, 8)
    cache = attnhw.KVCache(k, v, max_seq_len=8)
    step = 6.0 / 127                                   # the prompt's max over int8's 127
    k_new = np.zeros((1, 1, 1, 8))
    k_new[..., :3] = [7.0, -9.0, 6.0]                  # two beyond 127 steps, one at it
    with pytest.warns(RuntimeWarning, match="2 elements of the new row saturated"):
        cache.step(rng.standard_normal((1, 1, 1, 8)), k_new, np.zeros((1, 1, 1, 8)))
    assert cache.saturated == 2
    assert abs(cache.k_step - step) < 1e-15


def test_a_full_cache_refuses_a_step_and_keeps_its_rows():
    rng = np.random.default_rng(6)
    k, v = _prompt(rng, 1, 2, 3, 8)
    cache = attnhw.KVCache(k, v, max_seq_len=4)
    row = np.full((1, 2, 1, 8), 0.5)
    first = cache.step(rng.standard_normal((1, 2, 1, 8)), row, row)
    q = rng.standard_normal((1, 2, 1, 8))
    with pytest.raises(ValueError, match="the cache is full \\(4 rows\\)"):
        cache.step(q, row * 2, row * 2)
    assert cache.length == 4 and first.shape == (1, 2, 1, 8)
    held, _ = quantize_with_step(row, cache.k_step, 8)
    assert np.array_equal(cache._k[:, :, 3:], held)         # the refused row not written


@pytest.mark.parametrize("kwargs, message", [
    (dict(backend="engine"), "only 'golden'"),
    (dict(quant="row"), "quant='row'"),
    (dict(max_seq_len=2), "the prompt's 3 rows exceed max_seq_len=2"),
])
def test_bad_cache_arguments(kwargs, message):
    k = np.ones((1, 1, 3, 8))
    with pytest.raises(ValueError, match=message):
        attnhw.KVCache(k, k, **{"max_seq_len": 8, **kwargs})


def test_bad_step_shapes():
    k = np.ones((1, 2, 3, 8))
    cache = attnhw.KVCache(k, k, max_seq_len=8)
    row = np.ones((1, 2, 1, 8))
    with pytest.raises(ValueError, match="Hq a multiple of 2"):
        cache.step(np.ones((1, 3, 1, 8)), row, row)
    with pytest.raises(ValueError, match="must be \\(1, 2, 1, 8\\)"):
        cache.step(np.ones((1, 2, 1, 8)), np.ones((1, 1, 1, 8)), row)
    assert cache.length == 3
