"""Bit-exact model of the attention core, stage for stage as in ``hdl/``.

All arrays are int64 with leading batch dimensions: ``q (..., Nq, d)``,
``k, v (..., Nk, d)``, ``masked (..., Nq, Nk)`` (True: the key is excluded for
that query), ``scale`` an integer (or an array broadcastable to ``(..., Nq)``) in
the scale port's format ``u(scale_width-scale_frac).scale_frac``.

Stages (names as the hdl units):

1. ``dot_product``:   ``s = q . k``                                  ``s(score_width).0``
2. ``scale_score``:   ``x = floor(s * scale / 2^(scale_frac - F))``  ``s(x_width).F``
3. ``running_max``:   ``M_j = max over unmasked i <= j of floor(x_i) + 1``, and the
   rescale shift ``delta_j = M_j - M_(j-1)`` (0 on the first unmasked key), clamped
   to ``shift_limit``
4. ``exp2_weight``:   ``e_j = 2^(x_j - M_j)``, ``u0.E`` (0 for a masked key)
5. ``online_sum``:    ``l_j = floor(l_(j-1) / 2^delta_j) + e_j * 2^G``
6. ``accumulate``:    ``acc_j = floor(acc_(j-1) / 2^delta_j) + e_j * v_j * 2^G``
7. ``normalize``:     ``o = sat_w(floor(acc / l + 1/2))``; ``o = 0`` when ``l = 0``
   (every key masked); by exact division or a reciprocal (``attnhw.golden.normalize``).
"""

import numpy as np

from .errors import InputError
from .exp2 import exp2_weight
from .fixed import shift_right_floor, signed_range
from .normalize import normalize as _normalize, quotient as _quotient

__all__ = ["dot_product", "scale_score", "running_max", "online_sum", "accumulate",
           "normalize", "attention", "attention_from_scores", "softmax_probs", "check_inputs"]


def _int_tensor(name, t):
    """``t`` as int64; ``ValueError`` for non-numeric, non-finite or fractional values
    (a silent cast would change the answer)."""
    a = np.asarray(t)
    if a.dtype.kind in "biu":
        return a.astype(np.int64)
    if a.dtype.kind != "f":
        raise InputError(f"{name} must hold integers, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} contains NaN or Inf")
    fractional = a != np.round(a)
    if fractional.any():
        raise InputError(f"{name} must hold integers (quantise first: attnhw.golden.quantize), "
                         f"got fractional values such as {a[fractional].flat[0]!r}")
    return a.astype(np.int64)


def check_inputs(q, k, v, masked, scale, p):
    """Validate shapes and ranges; raise ``ValueError`` naming the bad input."""
    lo, hi = signed_range(p.data_width)
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.ndim < 2 or t.shape[-1] != p.head_dim:
            raise InputError(f"{name} must have shape (..., N, {p.head_dim}), got {t.shape}")
        if t.size and (t.min() < lo or t.max() > hi):
            raise InputError(f"{name} has values outside the {p.data_width}-bit signed range")
    if k.shape != v.shape:
        raise InputError(f"k {k.shape} and v {v.shape} must have the same shape")
    nk = k.shape[-2]
    p.check_seq_len(nk, "k")
    if masked is not None and masked.shape[-1] != nk:
        raise InputError(f"mask must end in the key axis ({nk}), got {masked.shape}")
    scale = np.asarray(scale)
    if scale.size and (scale.min() < 0 or scale.max() >= (1 << p.scale_width)):
        raise InputError(f"scale must be an integer in [0, 2^{p.scale_width})")


def dot_product(q, k):
    """``s[..., i, j] = q[..., i, :] . k[..., j, :]``, exact."""
    return np.einsum("...id,...jd->...ij", q.astype(np.int64), k.astype(np.int64))


def scale_score(s, scale, p):
    """Base-2 score ``x`` in ``s?.F``: ``floor(s * scale / 2^(scale_frac - F))``."""
    t = s * np.asarray(scale, dtype=np.int64)[..., None]
    if p.x_shift >= 0:
        return shift_right_floor(t, p.x_shift)
    return t << -p.x_shift


def running_max(x, masked, p):
    """Integer running max ``M`` (``floor(x) + 1``) and rescale shifts ``delta``.

    Returns ``(M, delta, seen)``: ``seen[j]`` is True once an unmasked key has been
    seen at or before ``j``; ``M`` is meaningless where ``seen`` is False.
    """
    floor_x = x >> p.score_frac_bits
    cand = np.where(masked, np.iinfo(np.int64).min, floor_x + 1)
    m = np.maximum.accumulate(cand, axis=-1)
    seen = np.logical_or.accumulate(~masked, axis=-1)
    prev = np.concatenate([m[..., :1], m[..., :-1]], axis=-1)
    prev_seen = np.concatenate([np.zeros_like(seen[..., :1]), seen[..., :-1]], axis=-1)
    delta = np.where(prev_seen, m - np.where(prev_seen, prev, m), 0)
    return m, np.minimum(delta, p.shift_limit), seen


def exp_weights(x, m, masked, p):
    """``e = 2^(x - M)`` in ``u0.E`` per (query, key), 0 where masked."""
    n = np.where(masked, 0, m - 1 - (x >> p.score_frac_bits))
    f = x & ((1 << p.score_frac_bits) - 1)
    return np.where(masked, 0, exp2_weight(n, f, p))


def online_sum(e, delta, p):
    """Running sum ``l`` after each key, ``(..., Nk)``, ``E + G`` fraction bits."""
    sums = np.zeros(e.shape, dtype=np.int64)
    l = np.zeros(e.shape[:-1], dtype=np.int64)
    for j in range(e.shape[-1]):
        l = (l >> delta[..., j]) + (e[..., j] << p.guard_bits)
        sums[..., j] = l
    return sums


def accumulate(e, delta, v, p):
    """Accumulator ``acc[..., i, :]`` after the last key, ``E + G`` fraction bits."""
    v = v.astype(np.int64)
    acc = np.zeros(e.shape[:-1] + v.shape[-1:], dtype=np.int64)
    for j in range(e.shape[-1]):
        acc = (acc >> delta[..., j, None]) + ((e[..., j, None] * v[..., None, j, :]) << p.guard_bits)
    return acc


def normalize(acc, l, p):
    """``o = sat(round(acc·2^f / l))`` (``out_width`` bits, ``f = out_frac_bits``) by
    ``p.norm_method``; 0 if ``l == 0`` (every key
    masked). The arithmetic of each method: :mod:`attnhw.golden.normalize`."""
    return _normalize(acc, l, p)


def attention(q, k, v, scale, p, masked=None, *, stages=False):
    """The core's output ``o (..., Nq, d)`` for integer inputs (see module docstring).

    ``stages=True`` also returns a dict of every intermediate, for unit tests.
    """
    q, k, v = (_int_tensor(name, t) for name, t in (("q", q), ("k", k), ("v", v)))
    scale = _int_tensor("scale", scale)
    masked = None if masked is None else np.asarray(masked, dtype=bool)
    check_inputs(q, k, v, masked, scale, p)       # shapes first: q.shape[-2] needs 2 dims
    if masked is None:
        masked = np.zeros((q.shape[-2], k.shape[-2]), dtype=bool)
    s = dot_product(q, k)
    masked = np.broadcast_to(masked, s.shape)
    x = scale_score(s, scale, p)
    if stages:
        o, st = attention_from_scores(x, v, p, masked, stages=True)
        return o, dict(s=s, x=x, **st)
    return attention_from_scores(x, v, p, masked)


def _online_softmax(x, p, masked):
    """Stages 3-5 on integer scores ``x``: ``(m, delta, seen, e, l)``, ``l`` the final sum."""
    x = np.asarray(x, dtype=np.int64)
    masked = np.zeros(x.shape, dtype=bool) if masked is None else np.broadcast_to(masked, x.shape)
    m, delta, seen = running_max(x, masked, p)
    e = exp_weights(x, m, masked, p)
    return m, delta, seen, e, online_sum(e, delta, p)[..., -1]


def attention_from_scores(x, v, p, masked=None, *, stages=False):
    """Stages 3-7 from base-2 scores ``x (..., Nq, Nk)`` in ``s?.F`` (integers):
    for accuracy studies that choose the score distribution directly."""
    m, delta, _, e, l = _online_softmax(x, p, masked)
    acc = accumulate(e, delta, np.asarray(v, dtype=np.int64), p)
    o = normalize(acc, l, p)
    if stages:
        return o, dict(m=m, delta=delta, e=e, l=l, acc=acc)
    return o


def softmax_probs(x, p, masked=None, prob_bits=8):
    """The softmax probabilities the hardware's arithmetic gives, ``u0.prob_bits``
    (1.0 is ``2^prob_bits``): key ``j``'s weight as the accumulator holds it after the
    last key (``e_j * 2^G`` shifted by every later rescale: what a one-hot ``v_j``
    would leave), divided by the row's sum ``l`` with the selected normaliser."""
    m, _, seen, e, l = _online_softmax(x, p, masked)
    later = np.where(seen, m[..., -1:] - m, 0)          # floor(floor(a/2^i)/2^j) = floor(a/2^(i+j))
    eff = (e << p.guard_bits) >> np.clip(later, 0, 62)
    return np.clip(_quotient(eff << prob_bits, l, p), 0, 1 << prob_bits)
