"""The golden model: parameter checks, batch dimensions, exact rounding, accuracy."""

import math
from fractions import Fraction

import numpy as np
import pytest

from attnhw.golden.attention import attention, normalize
from attnhw.golden.params import AttnParams, ParamError
from attnhw.golden.quantize import random_problem
from attnhw.golden.reference import attention_float, error_stats
from attnhw.golden.scale import port_to_scale, scale_to_port


@pytest.mark.parametrize("kw, message", [
    (dict(head_dim=64, lanes=12), "lanes=12 must divide head_dim=64"),
    (dict(data_width=17), "data_width=17 is out of range"),
    (dict(lanes=0), "lanes=0 is out of range"),
    (dict(max_seq_len=0), "max_seq_len=0 is out of range"),
    (dict(exp_table_bits=17), "exp_table_bits=17 is out of range"),
    (dict(head_dim=8.0), "head_dim must be an integer"),
    (dict(data_width=16, head_dim=1024, lanes=16, max_seq_len=1 << 20), "exceeds 63 bits"),
])
def test_invalid_parameters_name_the_parameter(kw, message):
    with pytest.raises(ParamError, match=message):
        AttnParams(**kw)


def test_batch_dimensions_match_per_head_loop():
    p = AttnParams(head_dim=16, lanes=4)
    rng = np.random.default_rng(0)
    q = rng.integers(-128, 128, (2, 3, 5, 16))
    k = rng.integers(-128, 128, (2, 3, 7, 16))
    v = rng.integers(-128, 128, (2, 3, 7, 16))
    masked = rng.random((2, 3, 5, 7)) < 0.3
    scale = 300
    o = attention(q, k, v, scale, p, masked)
    assert o.shape == (2, 3, 5, 16)
    for b in range(2):
        for h in range(3):
            assert (o[b, h] == attention(q[b, h], k[b, h], v[b, h], scale, p, masked[b, h])).all()


@pytest.mark.parametrize("f", [0, 3])
def test_normalize_is_round_half_up_and_saturates(f):
    """Independent check with exact fractions, ties included; with ``f`` output
    fraction bits the output is round(acc·2^f / l) in s(4+f).f."""
    p = AttnParams(data_width=4, out_frac_bits=f)
    sums = np.array([1, 2, 3, 7, 10, 0])
    cases = []
    for l in sums:
        for a in range(-12 * max(l, 1), 12 * max(l, 1) + 1):
            cases.append((a, l))
    acc = np.array([[a] for a, _ in cases])
    l = np.array([l for _, l in cases])
    got = normalize(acc, l, p)[:, 0]
    for (a, l_), g in zip(cases, got):
        lim = 1 << (3 + f)
        want = 0 if l_ == 0 else max(-lim, min(lim - 1,
                                               math.floor(Fraction(a * 2 ** f, l_) + Fraction(1, 2))))
        assert g == want, (a, l_)


def test_all_masked_row_is_zero_and_partial_masks_ignore_keys():
    p = AttnParams(head_dim=8, lanes=2)
    rng = np.random.default_rng(1)
    pr = random_problem(p, 3, 6, rng)
    masked = np.zeros((3, 6), bool)
    masked[0] = True
    masked[1, 3:] = True
    o = attention(pr["q"], pr["k"], pr["v"], pr["scale"], p, masked)
    assert not o[0].any()
    keep = attention(pr["q"][1:2], pr["k"][:3], pr["v"][:3], pr["scale"], p)
    assert (o[1] == keep[0]).all()


def test_scale_port_conversion():
    p = AttnParams()
    port, rel = scale_to_port(1e-3, p)
    assert abs(port_to_scale(port, p) / 1e-3 - 1) <= rel + 1e-12
    assert rel <= 2.0 ** -(p.scale_frac + 1) / (1e-3 / math.log(2))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite positive"):
            scale_to_port(bad, p)
    with pytest.raises(ValueError, match="exceeds the scale port's maximum"):
        scale_to_port(1e6, p)
    with pytest.raises(ValueError, match="below the scale port's resolution"):
        scale_to_port(1e-30, p)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 16.0])
def test_default_int8_accuracy_over_1e5_elements(temperature):
    """Issue target: >= 99% correctly rounded, never more than 1 LSB from it."""
    p = AttnParams()
    rng = np.random.default_rng(2)
    o_all, r_all = [], []
    for _ in range(7):
        pr = random_problem(p, 256, 64, rng, temperature=temperature)
        o_all.append(attention(pr["q"], pr["k"], pr["v"], pr["scale"], p))
        r_all.append(attention_float(pr["q"], pr["k"], pr["v"], pr["scale"], p))
    st = error_stats(np.concatenate(o_all), np.concatenate(r_all), p)
    assert st["elements"] >= 100_000
    assert st["correctly_rounded"] >= 0.99
    assert st["max_off_from_rounded"] <= 1
    assert st["max_abs_err_lsb"] < 1.0


def test_seq_len_check_names_the_input():
    p = AttnParams(max_seq_len=8)
    p.check_seq_len(1)
    p.check_seq_len(8)
    with pytest.raises(ParamError, match="--seq-len: 9 keys exceed max_seq_len=8"):
        p.check_seq_len(9, "--seq-len")
    with pytest.raises(ParamError, match="k: 0 keys, at least 1 is needed"):
        p.check_seq_len(0, "k")
