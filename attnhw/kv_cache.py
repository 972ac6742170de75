"""``attnhw.KVCache``: decoding with a key/value cache in the hardware's arithmetic.

A cache takes the prompt's keys and values ``(B, Hkv, S, d)``, fixes their quantisation
steps (from the prompt, or given), and holds their integers. Each
:meth:`KVCache.step` appends one row per key/value head, quantised with those steps
(a value beyond them saturates, and is counted), and attends one query per query head
``(B, Hq, 1, d)`` over every cached key, the new one included: ``is_causal``
semantics for the new row, grouped-query heads as torch's ``enable_gqa`` (query head
``h`` reads key/value head ``h // (Hq / Hkv)``). The numbers are those of
:func:`attnhw.sdpa` over the whole cache with the same steps
(``tests/test_kv_cache.py``).

Backends: ``"golden"``. The engine's K/V store does not keep a head between calls yet
(issue 29), so ``"engine"`` is refused rather than reloading the whole cache at every
step.
"""

import math
import warnings

import numpy as np

from attnhw.golden.attention import attention
from attnhw.golden.errors import InputError
from attnhw.golden.quantize import quantize_with_step
from attnhw.golden.scale import scale_to_port

from .functional import QUANT_MODES, _as_float64, _like, _quantize, params_for

__all__ = ["KVCache"]


class KVCache:
    """Keys and values of ``B`` sequences and ``Hkv`` heads, as the hardware holds them.

    Parameters
    ----------
    k, v : array or tensor ``(B, Hkv, S, d)``
        The prompt's keys and values (``S`` may be 0 with given steps).
    max_seq_len : int
        Rows the cache holds per head; a step beyond it is refused (nothing written).
    backend : {"golden"}
    quant : {"tensor", "head"}
        One step for each of K and V, or one per (sequence, head); fixed here.
    params : AttnParams or dict, optional
        As :func:`attnhw.sdpa`'s (``max_seq_len`` at least the cache's).
    k_step, v_step : float or array ``(B, Hkv)``, optional
        The steps, instead of the prompt's.

    Attributes
    ----------
    length : int
        Rows cached per head.
    saturated : int
        Elements of appended rows that saturated (beyond the fixed steps), in total.
    """

    def __init__(self, k, v, *, max_seq_len, backend="golden", quant="tensor", params=None,
                 k_step=None, v_step=None):
        if backend != "golden":
            raise InputError(f"KVCache backend={backend!r}: only 'golden' (the engine's K/V "
                             "store does not keep a head between calls yet)")
        if quant not in QUANT_MODES:
            raise InputError(f"quant={quant!r}: choose one of {', '.join(QUANT_MODES)}")
        k, v = _as_float64(k, "k"), _as_float64(v, "v")
        if k.ndim != 4 or k.shape != v.shape:
            raise InputError(f"k {k.shape} and v {v.shape} must both be (B, Hkv, S, d)")
        B, H, S, d = k.shape
        self.p = params_for(d, max_seq_len, params)
        if self.p.max_seq_len < max_seq_len or self.p.head_dim != d:
            raise InputError(f"params (head_dim {self.p.head_dim}, max_seq_len "
                             f"{self.p.max_seq_len}) do not hold a cache of {max_seq_len} rows "
                             f"of d = {d}")
        if S > max_seq_len:
            raise InputError(f"the prompt's {S} rows exceed max_seq_len={max_seq_len}")
        self.quant, self.max_seq_len, self.length, self.saturated = quant, max_seq_len, S, 0
        self.k_step = self._step(k, k_step, "k_step")
        self.v_step = self._step(v, v_step, "v_step")
        w = self.p.data_width
        self._k = np.zeros((B, H, max_seq_len, d), dtype=np.int64)
        self._v = np.zeros_like(self._k)
        self._k[:, :, :S], _ = quantize_with_step(k, self.k_step, w)
        self._v[:, :, :S], _ = quantize_with_step(v, self.v_step, w)

    def _step(self, x, given, name):
        """The fixed step: given, or from the prompt ``x`` (as :func:`attnhw.sdpa`'s)."""
        B, H = x.shape[:2]
        if given is not None:
            step = np.broadcast_to(np.asarray(given, dtype=np.float64),
                                   () if self.quant == "tensor" else (B, H)).copy()
            if not np.all(np.isfinite(step) & (step > 0)):
                raise InputError(f"{name} must be finite and positive")
            return step
        if x.shape[2] == 0:
            raise InputError(f"an empty prompt needs {name}")
        return _quantize(x, self.p.data_width, self.quant == "head")[1]    # as sdpa's

    def step(self, q, k_new, v_new, scale=None):
        """Append ``k_new, v_new (B, Hkv, 1, d)`` and attend with ``q (B, Hq, 1, d)``;
        returns ``(B, Hq, 1, d)`` in ``q``'s type. Refused (nothing written) at
        capacity; a saturated element warns and counts in :attr:`saturated`."""
        q_in, q = q, _as_float64(q, "q")
        k_new, v_new = _as_float64(k_new, "k_new"), _as_float64(v_new, "v_new")
        B, H, _, d = self._k.shape
        if k_new.shape != (B, H, 1, d) or v_new.shape != (B, H, 1, d):
            raise InputError(f"k_new {k_new.shape} and v_new {v_new.shape} must be "
                             f"({B}, {H}, 1, {d})")
        if q.ndim != 4 or q.shape[0] != B or q.shape[2:] != (1, d) or q.shape[1] % H:
            raise InputError(f"q {q.shape} must be ({B}, Hq, 1, {d}) with Hq a multiple of {H}")
        if self.length >= self.max_seq_len:
            raise InputError(f"the cache is full ({self.max_seq_len} rows): nothing appended")
        w, n = self.p.data_width, self.length
        (kq, ks), (vq, vs) = (quantize_with_step(x, s, w) for x, s in
                              ((k_new, self.k_step), (v_new, self.v_step)))
        if ks + vs:
            warnings.warn(f"KVCache.step: {ks + vs} elements of the new row saturated "
                          "(beyond the cache's steps)", RuntimeWarning, stacklevel=2)
        self._k[:, :, n:n + 1], self._v[:, :, n:n + 1] = kq, vq
        self.length, self.saturated = n + 1, self.saturated + ks + vs
        G = q.shape[1] // H
        scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
        qi, sq = _quantize(q, w, self.quant == "head")
        sq = np.broadcast_to(sq, (B, q.shape[1]))
        sk = np.broadcast_to(self.k_step, (B, H))
        sv = np.broadcast_to(self.v_step, (B, H))
        ports = np.array([[scale_to_port(scale * sq[b, h] * sk[b, h // G], self.p)[0]
                           for h in range(q.shape[1])] for b in range(B)])
        k = np.repeat(self._k[:, :, :n + 1], G, axis=1)
        v = np.repeat(self._v[:, :, :n + 1], G, axis=1)
        o = attention(qi, k, v, ports[..., None], self.p)
        out = o * np.repeat(sv, G, axis=1)[..., None, None] * 2.0 ** -self.p.out_frac_bits
        return _like(out, q_in)
