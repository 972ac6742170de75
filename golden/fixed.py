"""Integer rounding and saturation helpers, defined once (vectorised, int64).

"floor" means toward minus infinity (arithmetic right shift), never toward zero.
"""

import numpy as np

__all__ = ["shift_right_floor", "round_half_up_shift", "saturate", "signed_range"]


def signed_range(width):
    """(min, max) of a ``width``-bit two's complement integer."""
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


def shift_right_floor(x, n):
    """``floor(x / 2^n)`` for int64 ``x`` and ``n >= 0`` (n may be an array)."""
    return np.right_shift(np.asarray(x, dtype=np.int64), np.asarray(n, dtype=np.int64))


def round_half_up_shift(x, n):
    """``floor(x / 2^n + 1/2)``: round to nearest, ties toward plus infinity. ``n >= 1``."""
    x = np.asarray(x, dtype=np.int64)
    return np.right_shift(x + (np.int64(1) << np.int64(n - 1)), np.int64(n))


def saturate(x, width):
    """Clamp to the ``width``-bit signed range."""
    lo, hi = signed_range(width)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)
