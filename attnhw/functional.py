"""``attnhw.sdpa``: PyTorch's ``scaled_dot_product_attention`` computed in the
hardware's arithmetic.

The float inputs are quantised to ``data_width``-bit integers (symmetric, per tensor or
per head), the softmax scale becomes the scale port's fixed-point value, the golden
model (or the RTL) computes the integer output, and the result is dequantised. Every
step is the hardware's; only the quantisation of the float inputs is this module's.

Conventions are torch's (``torch.nn.functional.scaled_dot_product_attention``):

- ``query (..., L, E)``, ``key (..., S, E)``, ``value (..., S, Ev)``; leading axes
  broadcast; the output is ``(..., L, Ev)``.
- A boolean ``attn_mask`` is True where a query may attend, broadcastable to
  ``(..., L, S)``. A float mask may only hold 0 and -inf (the hardware adds no bias).
- ``is_causal=True`` is torch's upper-left alignment: query ``i`` sees keys
  ``j <= i``. ``is_causal="lower_right"`` aligns the last query with the last key
  (decoding with a cache, torch's ``causal_lower_right``): ``j <= i + S - L``.
  torch's ``CausalBias`` objects are accepted as ``attn_mask`` too.
- Unlike torch, ``attn_mask`` and ``is_causal`` may be given together: a query then
  sees a key only where both allow it.
- A query that sees no key gives a row of zeros (torch gives NaN).
- ``scale`` defaults to ``1/sqrt(E)``; ``enable_gqa`` shares each key/value head among
  ``Hq/Hkv`` consecutive query heads (axis -3), as torch does.
"""

import dataclasses
import math

import numpy as np

from attnhw.golden.errors import InputError
from attnhw.golden.params import AttnParams
from attnhw.golden.quantize import quantize
from attnhw.golden.reference import softmax_weighted_sum
from attnhw.golden.scale import scale_to_port

from .backends import BACKENDS, ENGINE_BACKENDS, run_backend

__all__ = ["sdpa", "sdpa_ideal", "SdpaInfo", "QUANT_MODES", "params_for"]

QUANT_MODES = ("tensor", "head")
CAUSAL = {False: None, True: "upper_left", "upper_left": "upper_left",
          "lower_right": "lower_right"}


@dataclasses.dataclass(frozen=True)
class SdpaInfo:
    """What :func:`sdpa` gave the hardware, for inspection (``return_info=True``).

    ``*_int`` are the integer tensors (broadcast, GQA-expanded, zero-padded to
    ``params.head_dim``); ``*_step`` the quantisation steps (``x ~= x_int * step``),
    one per tensor (0-d) or one per leading index (``quant="head"``); ``scale_port``
    the scale port's value per leading index; ``masked`` True where a query does not
    see a key; ``o_int`` the integer output, ``out = o_int * v_step / 2^f``
    (``f = params.out_frac_bits``, 0 by default);
    ``engine_form`` the masks in the engine's terms, ``(key_pad (..., S), causal
    offset or None)``, or None where a mask differs between queries of a head.
    """
    params: AttnParams
    q_int: np.ndarray
    k_int: np.ndarray
    v_int: np.ndarray
    q_step: np.ndarray
    k_step: np.ndarray
    v_step: np.ndarray
    scale: float
    scale_port: np.ndarray
    masked: np.ndarray
    o_int: np.ndarray
    engine_form: tuple | None = None


def params_for(head_dim, seq_len, params=None):
    """The :class:`AttnParams` for a call: ``params`` itself, or the defaults with
    ``head_dim``, ``lanes = gcd(head_dim, 16)`` and ``max_seq_len >= seq_len``,
    overridden by the entries of a ``params`` dict."""
    if isinstance(params, AttnParams):
        return params
    kw = dict(params or {})
    kw.setdefault("head_dim", head_dim)
    kw.setdefault("lanes", math.gcd(kw["head_dim"], AttnParams.lanes))
    kw.setdefault("max_seq_len", max(AttnParams.max_seq_len, seq_len))
    return AttnParams(**kw)


def _is_torch(x):
    """A torch tensor (or other torch object), told apart without importing torch."""
    return type(x).__module__.split(".")[0] == "torch"


def _as_float64(x, name):
    """``x`` (array or tensor) as a checked float64 array."""
    if _is_torch(x):
        x = x.detach().cpu().double().numpy()
    else:
        x = np.asarray(x)
        if x.dtype.kind not in "fiu":
            raise InputError(f"{name}: dtype {x.dtype} is not a real number type")
        x = x.astype(np.float64)
    if x.ndim < 2:
        raise InputError(f"{name}: shape {x.shape} must be (..., N, dim)")
    if not np.all(np.isfinite(x)):
        raise InputError(f"{name} contains NaN or Inf")
    return x


def _like(out, like):
    """``out`` as the type of ``like``, in its float dtype (float64 for integers)."""
    if _is_torch(like):
        import torch
        dtype = like.dtype if like.dtype.is_floating_point else torch.float64
        return torch.from_numpy(out).to(device=like.device, dtype=dtype)
    dtype = like.dtype if np.asarray(like).dtype.kind == "f" else np.float64
    return out.astype(dtype)


def _attend_from_mask(attn_mask):
    """A user mask as boolean "may attend" (broadcastable to ``(..., L, S)``)."""
    if _is_torch(attn_mask):
        attn_mask = attn_mask.detach().cpu().numpy()
    m = np.asarray(attn_mask)
    if m.dtype == bool:
        return m
    if m.dtype.kind == "f":
        if not np.all((m == 0) | (m == -np.inf)):
            raise InputError("attn_mask: a float mask may only hold 0 (attend) and -inf (do not "
                             "attend); the hardware adds no bias to the scores")
        return m == 0
    raise InputError(f"attn_mask: dtype {m.dtype} is neither bool nor float")


def _causal(L, S, align):
    """Boolean ``(L, S)``, True where query ``i`` may see key ``j``."""
    offset = 0 if align == "upper_left" else S - L
    return np.arange(S)[None, :] <= np.arange(L)[:, None] + offset


def _expand_gqa(q, k, v, enable_gqa):
    if not enable_gqa or k.ndim < 3:
        return k, v
    hq, hkv = q.shape[-3], k.shape[-3]
    if hq % hkv:
        raise InputError(f"enable_gqa: {hq} query heads are not a multiple of {hkv} key/value heads")
    return np.repeat(k, hq // hkv, axis=-3), np.repeat(v, hq // hkv, axis=-3)


def _quantize(x, width, per_head):
    """Integers and steps: one step for the tensor, or one per leading index."""
    if not per_head:
        ints, step = quantize(x, width)
        return ints, np.asarray(step)
    flat = x.reshape((-1,) + x.shape[-2:])
    pairs = [quantize(h, width) for h in flat]
    ints = np.stack([i for i, _ in pairs]).reshape(x.shape)
    return ints, np.array([s for _, s in pairs]).reshape(x.shape[:-2])


def _engine_form(user_attend, causal_offset, batch, L, S):
    """``(key_pad (..., S), offset)`` if the mask is key padding plus causal (what the
    engine's registers express), else None."""
    if user_attend is None:
        return np.zeros(batch + (S,), dtype=bool), causal_offset
    a = np.broadcast_to(user_attend, batch + (L, S))
    if L and not np.all(a == a[..., :1, :]):
        return None
    return ~a[..., 0, :], causal_offset


def _prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, quant,
             params):
    """Check the call, quantise, and build the scale ports and masks (shared by
    :func:`sdpa` and :func:`sdpa_ideal`)."""
    if dropout_p != 0.0:
        raise InputError(f"dropout_p={dropout_p}: the hardware has no dropout; pass 0.0")
    if quant not in QUANT_MODES:
        raise InputError(f"quant={quant!r}: choose one of {', '.join(QUANT_MODES)}")
    if is_causal not in CAUSAL:
        raise InputError(f"is_causal={is_causal!r}: choose False, True (upper_left) or "
                         "'lower_right'")
    if type(attn_mask).__name__ == "CausalBias":          # torch.nn.attention.bias
        if is_causal:
            raise InputError("attn_mask is a CausalBias: leave is_causal False")
        is_causal, attn_mask = attn_mask.variant.name.lower(), None
    q, k, v = (_as_float64(x, name) for x, name in ((query, "query"), (key, "key"),
                                                    (value, "value")))
    L, E, (S, Ev) = q.shape[-2], q.shape[-1], v.shape[-2:]
    if k.shape[-1] != E or k.shape[-2] != S:
        raise InputError(f"key {k.shape} must be (..., S={S}, E={E}) for query {q.shape} "
                         f"and value {v.shape}")
    groups = q.shape[-3] // k.shape[-3] if enable_gqa and k.ndim >= 3 and q.ndim >= 3 else 1
    k, v = _expand_gqa(q, k, v, enable_gqa)
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise InputError(f"leading axes of query {q.shape}, key {k.shape} and value {v.shape} "
                         "do not broadcast (enable_gqa for fewer key/value heads)") from None
    p = params_for(max(E, Ev), S, params)
    if p.head_dim < max(E, Ev):
        raise InputError(f"params.head_dim={p.head_dim} is smaller than the inputs' "
                         f"E={E} / Ev={Ev}")
    p.check_seq_len(S, "key")
    scale = 1.0 / math.sqrt(E) if scale is None else float(scale)

    def padded(x):
        x = np.broadcast_to(x, batch + x.shape[-2:])
        return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, p.head_dim - x.shape[-1])])
    per_head = quant == "head"
    qi, sq = _quantize(padded(q), p.data_width, per_head)
    ki, sk = _quantize(padded(k), p.data_width, per_head)
    vi, sv = _quantize(padded(v), p.data_width, per_head)
    ports = np.zeros(sq.shape, dtype=np.int64)
    for idx in np.ndindex(sq.shape):
        ports[idx] = scale_to_port(scale * sq[idx] * sk[idx], p)[0]

    user = None if attn_mask is None else _attend_from_mask(attn_mask)
    align = CAUSAL[is_causal]
    attend = np.ones((L, S), dtype=bool) if align is None else _causal(L, S, align)
    if user is not None:
        try:
            attend = np.broadcast_to(attend & user, batch + (L, S))
        except ValueError:
            raise InputError(f"attn_mask {np.shape(user)} does not broadcast to "
                             f"{batch + (L, S)}") from None
    masked = ~np.broadcast_to(attend, batch + (L, S))
    form = _engine_form(user, None if align is None else (0 if align == "upper_left" else S - L),
                        batch, L, S)
    return dict(p=p, qi=qi, ki=ki, vi=vi, sq=sq, sk=sk, sv=sv, ports=ports, masked=masked,
                engine_form=form, batch=batch, L=L, S=S, Ev=Ev, scale=scale, groups=groups)


def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
         enable_gqa=False, *, quant="tensor", backend="golden", params=None,
         simulator="verilator", board=None, return_info=False, log=None):
    """Scaled dot-product attention in the hardware's arithmetic.

    Parameters
    ----------
    query, key, value : numpy.ndarray or torch.Tensor
        ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)``; finite real values.
    attn_mask : array, tensor or torch ``CausalBias``, optional
        Boolean (True: may attend) or float (0 / -inf only), broadcastable to
        ``(..., L, S)``.
    dropout_p : float
        Must be 0 (the hardware has no dropout).
    is_causal : bool or {"upper_left", "lower_right"}
        True is torch's upper-left alignment; see the module docstring.
    scale : float, optional
        Softmax scale (natural-log domain); default ``1/sqrt(E)``.
    enable_gqa : bool
        Grouped-query attention: key/value heads (axis -3) shared by query heads.
    quant : {"tensor", "head"}
        One symmetric quantisation step per tensor, or one per leading index (per
        batch and head); each head's scale port then absorbs its own steps.
    backend : {"golden", "rtl", "engine", "board"}
        The golden model, the core's RTL or the engine's RTL in simulation, or the
        engine on a board behind its host link (``board``, docs/link.md); all give
        identical outputs. The board's engine takes the engine's masks. The engine takes masks that are the same for every query
        of a head (key padding) plus causal masking. With ``enable_gqa`` it loads each
        key/value head once for its group of query heads (its ``GROUP_ROWS``
        register), where the group's query heads share one scale port and one key
        padding (always with ``quant="tensor"``); otherwise it loads a copy per query
        head.
    params : AttnParams or dict, optional
        The hardware's parameters (``head_dim`` may exceed ``max(E, Ev)``: inputs are
        zero-padded), or overrides of the defaults chosen by :func:`params_for`.
    simulator : {"verilator", "icarus"}
        For the RTL backends.
    board : attnhw.board.Board, optional
        For ``backend="board"``; its parameters are the default ``params``.
    return_info : bool
        Also return an :class:`SdpaInfo` with the integers, steps and scale ports.
    log : callable, optional
        Progress messages of the RTL backends (default: none).

    Returns
    -------
    out : same type as ``query``
        ``(..., L, Ev)`` in ``query``'s float dtype (float64 for integer input).
    info : SdpaInfo
        Only with ``return_info=True``.
    """
    if backend not in BACKENDS:
        raise InputError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "board" and params is None and board is not None:
        params = board.params
    c = _prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, quant,
                 params)
    p, form = c["p"], c["engine_form"]
    if backend in ENGINE_BACKENDS and form is None:
        raise InputError(f"backend {backend!r}: its masks are per-key padding and causal; "
                         "this attn_mask differs between queries of a head "
                         "(use backend 'golden' or 'rtl')")
    o_int = run_backend(backend, p, c["qi"], c["ki"], c["vi"], c["ports"], c["masked"],
                        engine_form=form, groups=c["groups"], simulator=simulator,
                        board=board, log=log or (lambda *a: None))
    # The output is s(w+f).f: f = out_frac_bits fraction bits below v's step.
    out = _like(o_int[..., :c["Ev"]] * np.asarray(c["sv"])[..., None, None]
                * 2.0 ** -p.out_frac_bits, query)
    if not return_info:
        return out
    return out, _info(c, o_int)


def _info(c, o_int):
    return SdpaInfo(params=c["p"], q_int=c["qi"], k_int=c["ki"], v_int=c["vi"], q_step=c["sq"],
                    k_step=c["sk"], v_step=c["sv"], scale=c["scale"], scale_port=c["ports"],
                    masked=c["masked"], o_int=o_int, engine_form=c["engine_form"])


def sdpa_ideal(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
               enable_gqa=False, *, quant="tensor", params=None, return_info=False):
    """The ideal int8 pipeline beside :func:`sdpa`: the same quantised integers, then
    float64 attention on their dequantised values (exact scale, softmax and weighted
    sum), the output rounded to nearest in the hardware's output format (``v``'s step).
    What quantisation costs on its own, with no error of the hardware's softmax. With
    ``return_info``, also the :class:`SdpaInfo` (``o_int``: the rounded output)."""
    c = _prepare(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, quant,
                 params)
    steps = [np.asarray(s)[..., None, None] for s in (c["sq"], c["sk"], c["sv"])]
    q, k, v = (i * s for i, s in zip((c["qi"], c["ki"], c["vi"]), steps))
    x = np.einsum("...id,...jd->...ij", q, k) * c["scale"]
    o_int = np.floor(softmax_weighted_sum(x, v, c["masked"], exp=np.exp) / steps[2] + 0.5)
    out = _like(o_int[..., :c["Ev"]] * steps[2], query)
    return (out, _info(c, o_int.astype(np.int64))) if return_info else out
