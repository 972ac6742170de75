"""The normaliser: ``round(numer / l)`` three ways, bit-exact (``p.norm_method``).

``l`` is the running sum (``u.(E+G)``, ``sum_width`` bits, ``S`` below), ``numer`` the
accumulator (same fraction bits, times V's integer scale), so the quotient is in V's
format. Rounding is half up; callers saturate.

- ``"divide"``: ``floor((2*numer + l) / (2*l))``, exact (``attnhw.hdl.normalize.Normalize``,
  a restoring divider per lane).
- ``"recip_nr"`` and ``"recip_lut"``: with ``k = floor(log2 l)`` and the mantissa
  ``m = l / 2^k`` in [1, 2), a table of ``2^R`` entries ``r0 = 2^P / m_mid`` (``u1.P``,
  ``m_mid`` the centre of the ``R``-bit segment, relative error below ``2^-(R+1)``) is
  indexed by the ``R`` bits below the leading one. ``"recip_nr"`` refines it once by
  Newton-Raphson, ``r = r0 (2 - m r0)``, in ``u1.P`` with floor after each product
  (error ``~2^-(2R+2) + 2^-(P-1)`` relative). Then
  ``q = floor((numer * r + 2^(P+k-1)) / 2^(P+k))`` (``attnhw.hdl.normalize_recip``).
  Overflow: ``|numer * r| < 2^recip_product_width <= 2^63`` (``AttnParams``), and
  ``P + k <= P + S - 1 < 63``.
"""

import functools
import math

import numpy as np

from .fixed import saturate

__all__ = ["recip_table", "leading_one", "reciprocal", "quotient", "normalize"]


@functools.lru_cache(maxsize=None)
def _recip_table(table_bits, frac_bits):
    n = 1 << table_bits
    t = np.array([math.floor((1 << frac_bits) / (1 + (i + 0.5) / n) + 0.5) for i in range(n)],
                 dtype=np.int64)
    t.setflags(write=False)
    return t


def recip_table(p):
    """``2^R`` entries ``round(2^P / (1 + (i + 1/2) / 2^R))``, ``u1.P`` (all below 2^P)."""
    return _recip_table(p.recip_table_bits, p.recip_frac_bits)


def leading_one(l):
    """``floor(log2 l)`` for int64 ``l >= 1`` (exact, no float conversion)."""
    l = np.asarray(l, dtype=np.int64)
    k = np.zeros(l.shape, dtype=np.int64)
    for b in range(1, 63):
        k += (l >> b) > 0
    return k


def _align(x, have, want):
    """``x`` with ``have`` fraction bits as ``want`` fraction bits (floor)."""
    return x >> (have - want) if have >= want else x << (want - have)


def reciprocal(l, p):
    """``(r, k)`` with ``1/l ~ r / 2^(P+k)``, ``r`` in ``u1.P``; ``l >= 1``."""
    s, pf = p.sum_width, p.recip_frac_bits
    l = np.asarray(l, dtype=np.int64)
    k = leading_one(l)
    mant = l << (s - 1 - k)                         # u1.(S-1), the leading one at bit S-1
    idx = _align(mant, s - 1, p.recip_table_bits) & ((1 << p.recip_table_bits) - 1)
    r = recip_table(p)[idx]
    if p.norm_method == "recip_nr":
        t = (_align(mant, s - 1, pf) * r) >> pf     # m * r0, u2.P, about 2^P
        r = (r * ((1 << (pf + 1)) - t)) >> pf       # r0 * (2 - m r0)
    return r, k


def quotient(numer, l, p):
    """``round(numer / l)`` (half up) by ``p.norm_method``; 0 where ``l == 0``.
    ``numer (..., n)``, ``l (...)``."""
    l = np.asarray(l, dtype=np.int64)
    numer = np.asarray(numer, dtype=np.int64)
    safe = np.maximum(l, 1)[..., None]
    if p.norm_method == "divide":
        q = np.floor_divide(2 * numer + safe, 2 * safe)
    else:
        r, k = reciprocal(np.maximum(l, 1), p)
        sh = (p.recip_frac_bits + k)[..., None]
        q = (numer * r[..., None] + (np.int64(1) << (sh - 1))) >> sh
    return np.where(l[..., None] == 0, 0, q)


def normalize(acc, l, p):
    """``o = sat(round(acc·2^f / l))`` (``out_width = w + f`` bits signed, ``f =
    out_frac_bits``); 0 for an all-masked row."""
    acc = np.asarray(acc, dtype=np.int64) << p.out_frac_bits
    return saturate(quotient(acc, l, p), p.out_width)
