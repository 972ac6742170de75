"""Exp unit against golden: exhaustive at a small width, random at the defaults."""

import numpy as np
import pytest

from attnhw.golden.exp2 import exp2_frac, exp2_weight
from attnhw.golden.params import AttnParams
from attnhw.hdl.exp2 import Exp2
from tests.unit_sim import run_stream_unit


def _check(p, n, f, rng):
    beats = [{"n": int(a), "f": int(b), "tag": 0} for a, b in zip(n, f)]
    out = run_stream_unit(Exp2(p), beats, len(beats), rng, gap=0.2, stall=0.2)
    assert [o["e"] for o in out] == exp2_weight(n, f, p).tolist()


@pytest.mark.parametrize("method", AttnParams.EXP_METHODS)
def test_exp2_exhaustive_small(method):
    p = AttnParams(exp_bits=6, score_frac_bits=5, exp_table_bits=2, exp_method=method)
    n, f = np.meshgrid(np.arange(p.exp_shift_limit + 1), np.arange(1 << 5), indexing="ij")
    _check(p, n.ravel(), f.ravel(), np.random.default_rng(3))


@pytest.mark.parametrize("kw", [dict(), dict(exp_table_bits=0), dict(score_frac_bits=6, exp_table_bits=6),
                                dict(exp_method="lut"), dict(exp_method="lut", exp_table_bits=0),
                                dict(exp_method="poly"), dict(exp_method="shift")])
def test_exp2_random(kw):
    p = AttnParams(**kw)
    rng = np.random.default_rng(4)
    f = np.concatenate([[0, (1 << p.score_frac_bits) - 1], rng.integers(0, 1 << p.score_frac_bits, 200)])
    n = np.concatenate([[0, 0], rng.integers(0, p.exp_shift_limit + 1, 200)])
    _check(p, n, f, rng)


def test_exp2_table_is_accurate():
    """The interpolated 2^frac stays within its documented budget of 2^frac."""
    p = AttnParams()
    f = np.arange(1 << p.score_frac_bits)
    approx = exp2_frac(f, p) / 2.0 ** (p.exp_bits + 1)
    exact = 2.0 ** (f / 2.0 ** p.score_frac_bits)
    c = (np.log(2) * 2.0 ** -p.exp_table_bits) ** 2 / 16
    # 2^frac: interpolation error plus two roundings of half a u1.(E+1) LSB.
    assert np.all(np.abs(approx - exact) <= c * exact + 2.0 ** -(p.exp_bits + 1))
    w = exp2_weight(np.zeros_like(f), f, p) / 2.0 ** p.exp_bits
    assert np.all(np.abs(w - exact / 2) <= c + 0.75 * 2.0 ** -p.exp_bits)


# Relative error bound of 2^frac per method, from first principles (not from the code):
# lut: the fraction is off by at most half a table step, 2^(2^-(T+1)) - 1, plus the
# entry's rounding; poly: the Chebyshev bound max|third derivative| / 3! / 2^2 * (1/2)^3,
# the third derivative being ln2^3 2^t <= 2 ln2^3, plus three floors of 2^-(E+1);
# shift: 2^(1/2) - 1.
@pytest.mark.parametrize("method, bound", [
    ("lut", lambda p: 2 ** (2.0 ** -(p.exp_table_bits + 1)) - 1 + 2.0 ** -(p.exp_bits + 1)),
    ("poly", lambda p: np.log(2) ** 3 * 2 / 6 / 4 / 8 + 3 * 2.0 ** -(p.exp_bits + 1)),
    ("shift", lambda p: 2 ** 0.5 - 1 + 1e-12),
])
def test_exp2_methods_within_bound_and_monotone(method, bound):
    p = AttnParams(exp_method=method)
    f = np.arange(1 << p.score_frac_bits)
    approx = exp2_frac(f, p) / 2.0 ** (p.exp_bits + 1)
    exact = 2.0 ** (f / 2.0 ** p.score_frac_bits)
    assert np.max(np.abs(approx / exact - 1)) <= bound(p)
    if method == "shift":       # the nearest power of two: at most half an octave off
        assert np.max(np.abs(np.log2(approx / exact))) <= 0.5
    assert np.all(np.diff(exp2_frac(f, p)) >= 0)
    assert exp2_frac(f, p).max() <= 1 << (p.exp_bits + 2)     # so the weight <= 2^E
