"""The exp unit: ``2^y`` for ``y < 0`` in the base-2 domain, bit-exact.

``y = x - M`` with ``x`` in ``s?.F`` and the integer running max ``M = floor(max x) + 1``.
Write ``x = xi + f/2^F`` (``xi = floor(x)``) and ``n = M - 1 - xi >= 0``; then
``2^y = 2^(f/2^F) * 2^-(n+1)``: the integer part is a shift, only ``2^frac`` with
``frac`` in [0, 1) needs a table.

``2^frac`` (``u1.(E+1)``, below ``2^(E+2)`` raw) comes from one of four methods,
``p.exp_method``:

- ``"interp"`` (default): a table of ``2^T + 1`` entries indexed by the top ``T``
  fraction bits, linearly interpolated with the low ``F - T`` bits (round half up).
- ``"lut"``: the same size of table holding ``2^(i/2^T)`` rounded, indexed by the
  fraction rounded half up to ``T`` bits; no interpolation.
- ``"poly"``: ``c0 + t (c1 + c2 t)`` by Horner in ``u?.(E+1)`` with floor after each
  product (I-BERT's second-order idea, fitted to ``2^t`` on [0, 1] at the Chebyshev
  nodes); no table. Error ~3.5e-3 relative: a coarse, table-free point.
- ``"shift"``: ``2^round(frac)``, i.e. the weight is a power of two (ITA's pure shift);
  error up to ``sqrt(2)`` relative, the coarsest point.

For ``"interp"``:
The entries are the exact values lowered by half the worst chord error,
``c = (ln2 * 2^-T)^2 / 16`` (relative), which centres the interpolation error.

Error budget of the weight ``e = floor((floor(V / 2^(n+1)) + 1) / 2)`` (``V / 2^(n+2)``
rounded half up to ``u0.E``, saturated at ``1 - 2^-E``; the max element has ``e`` in [0.5, 1)):
interpolation ``c = (ln2 2^-T)^2/16`` relative (1.8e-6 at T=7), table and
interpolation rounding half an LSB of ``u1.(E+1)`` each (``2^-(E+2)`` in ``e``'s scale
together), final rounding ``2^-(E+1)``: in total below ``c + 0.75 * 2^-E``, i.e.
``0.87 * 2^-E`` = 6.6e-6 at the defaults (E=17, T=7). ``tests/test_unit_exp2.py``
checks this bound over every ``f``.
"""

import functools
import math

import numpy as np

from .fixed import round_half_up_shift

__all__ = ["exp2_table", "exp2_lut_table", "poly_coefficients", "exp2_frac", "exp2_weight"]


@functools.lru_cache(maxsize=None)
def _table(exp_bits, table_bits):
    prec = exp_bits + 1                      # u1.(E+1)
    h = 2.0 ** -table_bits
    c = (math.log(2) * h) ** 2 / 16
    vals = [2.0 ** (i * h) * (1 - c) for i in range((1 << table_bits) + 1)]
    table = np.array([math.floor(v * (1 << prec) + 0.5) for v in vals], dtype=np.int64)
    table.setflags(write=False)
    return table


def exp2_table(p):
    """The ``2^T + 1`` table entries, ``u1.(E+1)``, as a read-only int64 array."""
    return _table(p.exp_bits, p.exp_table_bits)


@functools.lru_cache(maxsize=None)
def _lut_table(exp_bits, table_bits):
    prec = exp_bits + 1
    table = np.array([math.floor(2.0 ** (i / (1 << table_bits)) * (1 << prec) + 0.5)
                      for i in range((1 << table_bits) + 1)], dtype=np.int64)
    table.setflags(write=False)
    return table


def exp2_lut_table(p):
    """``"lut"``: ``2^(i/2^T)`` rounded to ``u1.(E+1)``, ``2^T + 1`` entries (the last
    is exactly 2.0, reached when the fraction rounds up)."""
    return _lut_table(p.exp_bits, p.exp_table_bits)


@functools.lru_cache(maxsize=None)
def poly_coefficients(exp_bits):
    """``"poly"``: ``(c0, c1, c2)`` in ``u?.(E+1)``, rounded, of the quadratic through
    ``2^t`` at the three Chebyshev nodes of [0, 1] (near-minimax)."""
    nodes = 0.5 - 0.5 * np.cos((2 * np.arange(3) + 1) * np.pi / 6)
    c2, c1, c0 = np.polyfit(nodes, 2.0 ** nodes, 2)
    return tuple(int(math.floor(c * (1 << (exp_bits + 1)) + 0.5)) for c in (c0, c1, c2))


def _frac_lut(f, p):
    lo_bits = p.score_frac_bits - p.exp_table_bits
    idx = f if lo_bits == 0 else round_half_up_shift(f, lo_bits)
    return exp2_lut_table(p)[idx]


def _frac_poly(f, p):
    c0, c1, c2 = poly_coefficients(p.exp_bits)
    fb = p.score_frac_bits
    b = c1 + ((c2 * f) >> fb)
    return np.minimum(((b * f) >> fb) + c0, (1 << (p.exp_bits + 2)) - 1)


def _frac_shift(f, p):
    return np.int64(1 << (p.exp_bits + 1)) << (f >> (p.score_frac_bits - 1))


def exp2_frac(f, p):
    """``2^(f / 2^F)`` in ``u1.(E+1)`` for ``0 <= f < 2^F`` (int64 array), by
    ``p.exp_method``; at most ``2^(E+2)``, so the rounded weight is at most ``2^E`` before
    it saturates."""
    f = np.asarray(f, dtype=np.int64)
    if p.exp_method != "interp":
        return {"lut": _frac_lut, "poly": _frac_poly, "shift": _frac_shift}[p.exp_method](f, p)
    table = exp2_table(p)
    lo_bits = p.score_frac_bits - p.exp_table_bits
    idx = f >> lo_bits
    base = table[idx]
    if lo_bits == 0:
        return base
    slope = table[idx + 1] - base
    f_lo = f & ((1 << lo_bits) - 1)
    return base + round_half_up_shift(slope * f_lo, lo_bits)


def exp2_weight(n, f, p):
    """The exp weight ``e = min(round(2^(f/2^F) * 2^-(n+1) * 2^E), 2^E - 1)``, ``u0.E``
    (saturating the rare 1.0 keeps ``e`` at ``E`` bits).

    ``n >= 0`` is clamped to ``p.exp_shift_limit`` (where the weight is already 0).
    """
    n = np.minimum(np.asarray(n, dtype=np.int64), p.exp_shift_limit)
    return np.minimum(((exp2_frac(f, p) >> (n + 1)) + 1) >> 1, p.exp_value_max)
