"""Per-tensor symmetric quantisation and the built-in random problems."""

import math

import numpy as np

from .scale import scale_to_port

__all__ = ["quantize", "quantize_with_step", "random_problem"]


def quantize(x, width):
    """Symmetric per-tensor quantisation to ``width``-bit signed integers.

    Returns ``(ints, step)`` with ``x ~= ints * step``; ``step = max|x| / (2^(w-1) - 1)``
    (1.0 for an all-zero tensor), round half away from zero.
    """
    x = np.asarray(x, dtype=np.float64)
    qmax = (1 << (width - 1)) - 1
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    step = amax / qmax if amax > 0 else 1.0
    return quantize_with_step(x, step, width)[0], step


def quantize_with_step(x, step, width):
    """``x`` to ``width``-bit signed integers with a given ``step`` (a scalar, or one
    per leading index broadcast over the last two axes), rounded as :func:`quantize`
    and saturated to ``±(2^(w-1) - 1)``. Returns ``(ints, saturated)``, the number of
    elements the saturation changed (a K/V cache's rows beyond its fixed steps)."""
    x = np.asarray(x, dtype=np.float64)
    step = np.asarray(step, dtype=np.float64)
    if step.ndim:
        step = step[..., None, None]
    qmax = (1 << (width - 1)) - 1
    rounded = np.sign(x) * np.floor(np.abs(x) / step + 0.5)
    ints = np.clip(rounded, -qmax, qmax)
    return ints.astype(np.int64), int(np.count_nonzero(ints != rounded))


def random_problem(p, nq, nk, rng, *, temperature=1.0, mask_prob=0.0):
    """Quantised Gaussian Q, K, V with the scale ``1/sqrt(d)`` folded in.

    Returns a dict with integer ``q (nq, d)``, ``k, v (nk, d)``, ``masked (nq, nk)``
    and the port value ``scale``. ``temperature`` multiplies the float scale
    (> 1 gives peaked softmax rows).
    """
    d = p.head_dim
    q, sq = quantize(rng.standard_normal((nq, d)), p.data_width)
    k, sk = quantize(rng.standard_normal((nk, d)), p.data_width)
    v, _ = quantize(rng.standard_normal((nk, d)), p.data_width)
    scale, _ = scale_to_port(temperature * sq * sk / math.sqrt(d), p)
    masked = rng.random((nq, nk)) < mask_prob
    return dict(q=q, k=k, v=v, masked=masked, scale=scale)
