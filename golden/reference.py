"""Float64 reference: exact softmax attention on the same integers and scale port
value, and the error of the integer output measured in output LSBs."""

import numpy as np

from .fixed import signed_range

__all__ = ["attention_float", "softmax_float", "softmax_weighted_sum", "error_stats"]


def softmax_float(x, masked=None, exp=np.exp2):
    """Exact float64 softmax of ``x`` along the last axis, in the base of ``exp``;
    masked keys and all-masked rows give 0."""
    x = np.asarray(x, dtype=np.float64)
    if masked is not None:
        x = np.where(np.broadcast_to(masked, x.shape), -np.inf, x)
    mx = np.max(x, axis=-1, keepdims=True)
    w = exp(x - np.where(np.isfinite(mx), mx, 0.0))
    tot = w.sum(axis=-1, keepdims=True)
    return np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 0.0)


def softmax_weighted_sum(x, v, masked=None, exp=np.exp2):
    """Exact float64 ``sum_j softmax_j(x) v_j`` over the unmasked keys, with
    ``softmax`` in the base of ``exp``; all-masked rows give 0, as the hardware does."""
    return softmax_float(x, masked, exp) @ v


def attention_float(q, k, v, scale, p, masked=None):
    """Exact attention on the integers with ``x = s * scale / 2^scale_frac`` in base 2."""
    q, k, v = (np.asarray(t, dtype=np.float64) for t in (q, k, v))
    x = np.einsum("...id,...jd->...ij", q, k) * (
        np.asarray(scale, dtype=np.float64)[..., None] / 2.0 ** p.scale_frac)
    return softmax_weighted_sum(x, v, masked)


def error_stats(o_int, o_ref, p):
    """Error of integer outputs against the float reference, in output LSBs."""
    lo, hi = signed_range(p.data_width)
    err = np.asarray(o_int, dtype=np.float64) - o_ref
    rounded = np.clip(np.floor(o_ref + 0.5), lo, hi)
    return {
        "elements": int(err.size),
        "max_abs_err_lsb": float(np.max(np.abs(err))) if err.size else 0.0,
        "mean_abs_err_lsb": float(np.mean(np.abs(err))) if err.size else 0.0,
        "p999_abs_err_lsb": float(np.quantile(np.abs(err), 0.999)) if err.size else 0.0,
        "correctly_rounded": float(np.mean(o_int == rounded)) if err.size else 1.0,
        "max_off_from_rounded": int(np.max(np.abs(o_int - rounded))) if err.size else 0,
    }
