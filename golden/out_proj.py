"""The output projection ``y_i = W_O · [c_i^1; …; c_i^H] + b_O`` in integers: the
specification of the engine's output stage (every rounding defined here).

Formats (``w`` = ``data_width``, ``ww`` = ``weight_width``):

- ``c`` (the attention outputs, one row per query and head): ``s(w).0`` integers with
  one step per head, ``c_step[h]`` (the value step of that head's ``v``).
- Weights: **per output row**, symmetric: the effective weight ``W[o, h·d + j] ·
  c_step[h]`` (the head's value step folded in, so partial sums of heads with
  different value scales meet in one scale without any hardware) is quantised to
  ``s(ww).0`` with step ``w_step[o] = max_k |W_eff[o, k]| / (2^(ww-1) - 1)``, round
  half away from zero (as :func:`attnhw.golden.quantize.quantize`).
- Bias: in the accumulator's scale, ``b_int[o] = round(b[o] / w_step[o])`` (half away
  from zero), bounded like the products' sum (:class:`ProjParams`).
- Accumulation, exact: ``acc[o] = Σ_k W_int[o, k] · c[k] + b_int[o]``, so
  ``y[o] ≈ acc[o] · w_step[o]``.
- Requantisation to ``s(out_width).0`` with the output step ``y_step``:
  ``y_int[o] = sat(floor((acc[o] · M[o] + 2^(sh[o]-1)) / 2^sh[o]))`` (round half up,
  saturated), with ``M[o] / 2^sh[o]`` the ``mult_bits``-bit fixed-point value of
  ``w_step[o] / y_step`` (:func:`requant_multiplier`).

The gateware (:class:`attnhw.hdl.out_proj.OutProjection`) computes ``lanes`` outputs at
once and holds partial sums for ``tile_rows`` queries; its load port takes the
integers as 32-bit words in the order of :func:`load_words`, and the queries of a
layer pass in tiles (:func:`tile_bounds`), each tile once per head.
"""

import dataclasses
import math

import numpy as np

from .errors import InputError
from .params import check_int64, check_range
from .fixed import round_half_up_shift, saturate, signed_range
from .quantize import quantize

__all__ = ["ProjParams", "quantize_projection", "requant_multiplier", "requantise", "project",
           "project_float", "load_words", "tile_bounds", "LOAD_WORD_BITS", "SHIFT_LSB"]

#: Bits of a load port word.
LOAD_WORD_BITS = 32
#: Where ``sh`` sits in a requantisation word (``M`` in the bits below it).
SHIFT_LSB = 24


@dataclasses.dataclass(frozen=True)
class ProjParams:
    """Shape and formats of the output projection; widths derived, bounds checked with
    the parameters' one validator (:func:`attnhw.golden.params.check_range`,
    ``ParamError``).

    ``lanes`` (outputs computed at once) and ``tile_rows`` (queries whose partial sums
    are held) are the gateware's, whose limits it checks itself
    (:func:`attnhw.hdl.out_proj.check_projection`); the arithmetic does not depend on
    them."""
    heads: int
    head_dim: int
    d_out: int
    data_width: int = 8
    weight_width: int = 8
    out_width: int = 8
    mult_bits: int = 16
    lanes: int = 16
    tile_rows: int = 64

    def __post_init__(self):
        for name, lo, hi in (("heads", 1, 256), ("head_dim", 1, 1024), ("d_out", 1, 65535),
                             ("data_width", 2, 16), ("weight_width", 2, 16),
                             ("out_width", 2, 16), ("mult_bits", 2, 24), ("lanes", 1, 256),
                             ("tile_rows", 1, 65535)):
            check_range(name, getattr(self, name), lo, hi)
        check_int64("requant_width", self.requant_width,
                    "reduce heads·head_dim, data_width, weight_width or mult_bits")

    def check_load_format(self):
        """``InputError`` unless the load words (:func:`load_words`) can carry this
        projection: whole groups of ``lanes`` outputs, weight words of whole 32-bit
        words, a bias in one word. The arithmetic takes any; the gateware implements
        this format (:func:`attnhw.hdl.out_proj.check_projection`)."""
        if self.d_out % self.lanes:
            raise InputError(f"output projection: d_out={self.d_out} is not a multiple of "
                             f"the projection's lanes={self.lanes}")
        if self.lanes * self.weight_width % LOAD_WORD_BITS:
            raise InputError(f"output projection: lanes·weight_width = "
                             f"{self.lanes * self.weight_width} must be a multiple of "
                             f"{LOAD_WORD_BITS} (a weight word is loaded in "
                             f"{LOAD_WORD_BITS}-bit beats)")
        if self.acc_width > LOAD_WORD_BITS:
            raise InputError(f"output projection: acc_width {self.acc_width} exceeds the "
                             f"{LOAD_WORD_BITS}-bit load word that carries a bias; reduce "
                             "heads·head_dim or the widths")

    @property
    def groups(self):
        """Groups of ``lanes`` outputs: ``d_out / lanes``."""
        return self.d_out // self.lanes

    @property
    def words_per_weight_row(self):
        """Load words per weight memory word (``lanes`` weights)."""
        return self.lanes * self.weight_width // LOAD_WORD_BITS

    @property
    def load_length(self):
        """Words of one :func:`load_words` sequence."""
        return self.groups * self.k * self.words_per_weight_row + 2 * self.d_out

    @property
    def k(self):
        """Inputs per output: ``heads · head_dim``."""
        return self.heads * self.head_dim

    @property
    def product_sum_bound(self):
        """``max |Σ_k W_int · c|`` over all ``s(ww)`` weights and ``s(w)`` inputs:
        ``k · 2^(ww-1) · 2^(w-1)``; the bias is held to the same bound."""
        return self.k << (self.weight_width - 1 + self.data_width - 1)

    @property
    def acc_width(self):
        """Bits of the signed accumulator: ``|acc| <= 2 · product_sum_bound``."""
        return (2 * self.product_sum_bound).bit_length() + 1

    @property
    def requant_width(self):
        """Signed width of ``acc · M + 2^(sh-1)``: ``acc_width + mult_bits`` for the
        product (``M`` unsigned, ``mult_bits``) and one for the rounding add."""
        return self.acc_width + self.mult_bits + 1

    @property
    def max_shift(self):
        """Largest ``sh``: ``acc · M + 2^(sh-1)`` stays below 2^63 (``|acc · M| < 2^62``
        by :attr:`requant_width` <= 63, checked at construction)."""
        return 62


def quantize_projection(W, b, c_step, op):
    """Integers of the projection: ``(W_int (d_out, k), w_step (d_out,), b_int (d_out,))``.

    ``W`` is ``(d_out, heads·head_dim)`` as ``torch.nn.Linear`` stores it, ``b``
    ``(d_out,)`` or None, ``c_step`` the value step per head (``(heads,)`` or one).
    """
    W = np.asarray(W, dtype=np.float64)
    if W.shape != (op.d_out, op.k):
        raise InputError(f"W has shape {W.shape}; expected (d_out={op.d_out}, heads·head_dim="
                         f"{op.k})")
    if not np.all(np.isfinite(W)):
        raise InputError("W contains NaN or Inf")
    c_step = np.broadcast_to(np.asarray(c_step, dtype=np.float64), (op.heads,))
    eff = W * np.repeat(c_step, op.head_dim)[None, :]
    W_int, w_step = np.zeros(W.shape, dtype=np.int64), np.ones(op.d_out)
    for o in range(op.d_out):
        W_int[o], w_step[o] = quantize(eff[o], op.weight_width)
    b_int = np.zeros(op.d_out, dtype=np.int64)
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        if b.shape != (op.d_out,) or not np.all(np.isfinite(b)):
            raise InputError(f"b must be {op.d_out} finite numbers, got shape {b.shape}")
        b_int = (np.sign(b) * np.floor(np.abs(b) / w_step + 0.5)).astype(np.int64)
        if np.any(np.abs(b_int) > op.product_sum_bound):
            raise InputError("b is too large for the accumulator: |b / w_step| exceeds "
                             f"{op.product_sum_bound} (the bound of the products' sum)")
    return W_int, w_step, b_int


def requant_multiplier(ratio, op):
    """``(M, sh)`` with ``M / 2^sh`` = ``ratio`` rounded to ``mult_bits`` significant
    bits: ``M`` in ``[2^(mult_bits-1), 2^mult_bits)``, ``0 <= sh <= max_shift``
    (``ValueError`` if ``ratio`` needs more range)."""
    ratio = float(ratio)
    if not math.isfinite(ratio) or ratio <= 0:
        raise InputError(f"requantisation ratio {ratio!r} must be finite and positive")
    sh = op.mult_bits - 1 - math.floor(math.log2(ratio))
    M = math.floor(ratio * 2.0 ** sh + 0.5)
    if M >= 1 << op.mult_bits:                 # rounding carried into a new bit
        M, sh = M >> 1, sh - 1
    if not 0 <= sh <= op.max_shift:
        raise InputError(f"requantisation ratio {ratio:g} needs a shift of {sh}, outside "
                         f"[0, {op.max_shift}]: choose another output step")
    return M, sh


def project(c_int, W_int, b_int, M, sh, op):
    """``y_int (..., d_out)`` from ``c_int (..., heads, head_dim)`` (one query's rows of
    all heads, leading axes any), by the formats in the module docstring."""
    c = np.asarray(c_int, dtype=np.int64)
    if c.shape[-2:] != (op.heads, op.head_dim):
        raise InputError(f"c has shape {c.shape}; expected (..., {op.heads}, {op.head_dim})")
    lo, hi = signed_range(op.data_width)
    if c.size and (c.min() < lo or c.max() > hi):
        raise InputError(f"c has values outside the {op.data_width}-bit signed range")
    x = c.reshape(c.shape[:-2] + (op.k,))
    acc = x @ np.asarray(W_int, dtype=np.int64).T + np.asarray(b_int, dtype=np.int64)
    return requantise(acc, M, sh, op.out_width)


def requantise(acc, M, sh, out_width):
    """``sat(floor((acc · M + 2^(sh-1)) / 2^sh))`` to ``s(out_width).0`` (round half
    up; no rounding at ``sh = 0``), elementwise with broadcasting."""
    acc = np.asarray(acc, dtype=np.int64)
    M, sh = np.asarray(M, dtype=np.int64), np.asarray(sh, dtype=np.int64)
    t = acc * M
    shifted = np.where(sh > 0, round_half_up_shift(t, np.maximum(sh, 1)), t)
    return saturate(shifted, out_width)


def project_float(c, W, b=None):
    """float64 ``W · concat_h(c_h) + b`` for ``c (..., heads, head_dim)``."""
    c = np.asarray(c, dtype=np.float64)
    y = c.reshape(c.shape[:-2] + (-1,)) @ np.asarray(W, dtype=np.float64).T
    return y if b is None else y + np.asarray(b, dtype=np.float64)


def load_words(W_int, b_int, M, sh, op):
    """The load port's words (``uint32``, in order) for the integers of a projection.

    1. Weights: for each group ``g`` of ``lanes`` outputs and each input ``k``
       (``h·head_dim + j``), the ``lanes`` weights ``W_int[g·lanes + e, k]``, element
       ``e`` at bits ``[e·ww +: ww]`` of a ``lanes·ww``-bit word, sent low 32 bits
       first (``words_per_weight_row`` words).
    2. Biases: ``b_int[o]`` for each output ``o``, two's complement.
    3. Requantisation: ``M[o] | sh[o] << SHIFT_LSB`` for each output ``o``.
    """
    op.check_load_format()
    W = np.asarray(W_int, dtype=np.int64)
    if W.shape != (op.d_out, op.k):
        raise InputError(f"W_int has shape {W.shape}; expected ({op.d_out}, {op.k})")
    ww, mask = op.weight_width, (1 << op.weight_width) - 1
    words = []
    for g in range(op.groups):
        for k in range(op.k):
            row = 0
            for e in range(op.lanes):
                row |= (int(W[g * op.lanes + e, k]) & mask) << (e * ww)
            words += [(row >> (LOAD_WORD_BITS * i)) & 0xFFFFFFFF
                      for i in range(op.words_per_weight_row)]
    words += [int(b) & 0xFFFFFFFF for b in np.asarray(b_int, dtype=np.int64)]
    for m_, s_ in zip(np.asarray(M, dtype=np.int64), np.asarray(sh, dtype=np.int64)):
        if not (0 <= m_ < 1 << op.mult_bits and 0 <= s_ <= op.max_shift):
            raise InputError(f"requantisation (M={m_}, sh={s_}) is outside its format")
        words.append(int(m_) | int(s_) << SHIFT_LSB)
    return np.array(words, dtype=np.uint32)


def tile_bounds(n, op):
    """The tiles of ``n`` queries: ``(start, stop)`` pairs of at most ``tile_rows``.
    Each tile passes once per head, heads in order, before the next tile."""
    return [(s, min(s + op.tile_rows, n)) for s in range(0, n, op.tile_rows)]


def __getattr__(name):
    # OutProjParams was this class's name in 0.1.0; users may construct it by name.
    if name == "OutProjParams":
        import warnings
        warnings.warn("attnhw.golden.out_proj.OutProjParams is now ProjParams",
                      DeprecationWarning, stacklevel=2)
        return ProjParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
