"""The output projection's golden model (attnhw.golden.out_proj) against an independent
reading of its specification in exact rational arithmetic, and against float64."""

from fractions import Fraction

import numpy as np
import pytest

from attnhw.golden.out_proj import (ProjParams, project, project_float,
                                    quantize_projection, requant_multiplier)


def _spec_y(x, W_int, b_int, M, sh, out_width):
    """y = sat(round_half_up(acc · M / 2^sh)) with Python integers and Fractions."""
    hi, lo = (1 << (out_width - 1)) - 1, -(1 << (out_width - 1))
    out = []
    for o in range(len(W_int)):
        acc = sum(int(w) * int(c) for w, c in zip(W_int[o], x)) + int(b_int[o])
        v = Fraction(acc * int(M[o]), 2 ** int(sh[o]))
        r = (v + Fraction(1, 2)).__floor__()
        out.append(min(max(r, lo), hi))
    return out


@pytest.mark.parametrize("heads,d,d_out,w,ww", [(2, 4, 5, 8, 8), (3, 8, 7, 12, 8), (1, 16, 3, 6, 6)])
def test_project_is_the_specification(heads, d, d_out, w, ww):
    rng = np.random.default_rng(heads * 100 + d)
    op = ProjParams(heads=heads, head_dim=d, d_out=d_out, data_width=w, weight_width=ww)
    lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
    c = rng.integers(lo, hi + 1, size=(20, heads, d))
    wlo, whi = -(1 << (ww - 1)), (1 << (ww - 1)) - 1
    W_int = rng.integers(wlo, whi + 1, size=(d_out, heads * d))
    b_int = rng.integers(-op.product_sum_bound, op.product_sum_bound + 1, size=d_out)
    M = rng.integers(1 << (op.mult_bits - 1), 1 << op.mult_bits, size=d_out)
    sh = rng.integers(0, op.max_shift + 1, size=d_out)
    got = project(c, W_int, b_int, M, sh, op)
    for i in range(len(c)):
        assert list(got[i]) == _spec_y(c[i].reshape(-1), W_int, b_int, M, sh, op.out_width)


def test_worst_case_accumulator_fits_its_width():
    op = ProjParams(heads=12, head_dim=32, d_out=1)
    x = np.full((1, 12, 32), -(1 << 7))
    W = np.full((1, op.k), -(1 << 7))
    acc = int((x.reshape(1, -1) @ W.T)[0, 0]) + op.product_sum_bound
    assert acc == 2 * op.product_sum_bound < 1 << (op.acc_width - 1)
    assert op.acc_width == (2 * 384 * 128 * 128).bit_length() + 1


@pytest.mark.parametrize("ratio", [1e-6, 0.0123, 0.5, 1.0, 3.7, 1000.0])
def test_requant_multiplier_has_mult_bits_of_precision(ratio):
    op = ProjParams(heads=2, head_dim=8, d_out=1)
    M, sh = requant_multiplier(ratio, op)
    assert 1 << (op.mult_bits - 1) <= M < 1 << op.mult_bits and 0 <= sh <= op.max_shift
    assert abs(M / 2 ** sh - ratio) <= ratio * 2.0 ** -op.mult_bits


def test_heads_with_different_value_steps_meet_in_one_scale():
    """Head 1's values have a 100x smaller step and its weights are 100x larger, so both
    heads count: with the steps folded into the weights, the integer projection matches
    float64 W·concat(c)+b within a couple of output steps."""
    rng = np.random.default_rng(3)
    op = ProjParams(heads=2, head_dim=16, d_out=24)
    c_step = np.array([0.02, 0.0002])
    c_int = rng.integers(-127, 128, size=(50, 2, 16))
    W, b = rng.standard_normal((24, 32)) * 0.2, rng.standard_normal(24) * 0.1
    W[:, 16:] *= 100
    W_int, w_step, b_int = quantize_projection(W, b, c_step, op)
    exact = project_float(c_int * c_step[None, :, None], W, b)
    y_step = np.abs(exact).max() / 127
    Ms, shs = zip(*(requant_multiplier(s / y_step, op) for s in w_step))
    y = project(c_int, W_int, b_int, Ms, shs, op) * y_step
    err = np.abs(y - exact) / y_step
    assert err.max() < 2.0 and err.mean() < 0.6, (err.max(), err.mean())
    # Head 1 matters: dropping it costs far more than the error.
    without = project_float(c_int * np.array([0.02, 0.0])[None, :, None], W, b)
    assert np.abs(without - exact).max() / y_step > 5 * err.max()


@pytest.mark.parametrize("W,b,message", [
    (np.zeros((3, 7)), None, r"W has shape \(3, 7\); expected \(d_out=3, heads·head_dim=8\)"),
    (np.full((3, 8), np.nan), None, "W contains NaN or Inf"),
    (np.ones((3, 8)), np.ones(2), "b must be 3 finite numbers"),
    (np.ones((3, 8)) * 1e-3, np.full(3, 1e6), "b is too large for the accumulator"),
])
def test_bad_projection_inputs_are_refused(W, b, message):
    op = ProjParams(heads=2, head_dim=4, d_out=3)
    with pytest.raises(ValueError, match=message):
        quantize_projection(W, b, 0.01, op)
