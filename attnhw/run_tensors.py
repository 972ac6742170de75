"""``attnhw run``: attention on the user's ``.npy`` tensors through the exact hardware
arithmetic, a thin wrapper of :func:`attnhw.sdpa` (golden model, or RTL in simulation)."""

import math
import pathlib

import numpy as np

from attnhw.golden.errors import InputError
from attnhw.golden.params import AttnParams
from attnhw.golden.reference import softmax_weighted_sum

from .functional import params_for, sdpa
from .outputs import atomic_write

__all__ = ["run_files", "attention_float_natural", "load_tensor"]


def load_tensor(path, name, *, boolean=False):
    """A ``.npy`` file as a finite float64 (or bool) array; ``ValueError`` otherwise."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"--{name}: no such file: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:                       # noqa: BLE001 - any unreadable file
        raise InputError(f"--{name}: {path} is not a readable .npy file ({e.__class__.__name__})")
    if not isinstance(arr, np.ndarray):
        raise InputError(f"--{name}: {path} holds several arrays; give one .npy array")
    if boolean:
        if arr.dtype.kind not in "biu":
            raise InputError(f"--{name}: dtype {arr.dtype} is not bool or integer")
        return arr != 0
    if arr.dtype.kind not in "fiu":
        raise InputError(f"--{name}: dtype {arr.dtype} is not a real number type")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(f"--{name}: {path} contains NaN or Inf")
    return arr


def attention_float_natural(q, k, v, scale, masked):
    """Exact float64 ``softmax(scale q k^T, masked -> -inf) v``; all-masked rows 0."""
    x = np.einsum("...id,...jd->...ij", q, k) * scale
    return softmax_weighted_sum(x, v, masked, exp=np.exp)


def run_files(given, args):
    """The CLI: load, check, compute, report, write the output atomically. ``given``:
    the parameter values the command line sets (head_dim and lanes default to the
    tensors')."""
    q = load_tensor(args.q, "q")
    k = load_tensor(args.k, "k")
    v = load_tensor(args.v, "v")
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.ndim < 2 or t.shape[-1] == 0 or t.shape[-2] == 0:
            raise InputError(f"--{name}: shape {t.shape} must be (..., N, d) with N, d > 0")
    if k.shape != v.shape:
        raise InputError(f"--k {k.shape} and --v {v.shape} must have the same shape")
    if q.shape[:-2] != k.shape[:-2] or q.shape[-1] != k.shape[-1]:
        raise InputError(f"--q {q.shape} and --k {k.shape} must agree in the batch "
                         "dimensions and in d")
    p = params_for(q.shape[-1], AttnParams.max_seq_len, given)
    if q.shape[-1] != p.head_dim:
        raise InputError(f"tensors have d={q.shape[-1]} but --head-dim is {p.head_dim}")
    nq, nk = q.shape[-2], k.shape[-2]
    p.check_seq_len(nk, "--k")
    key_mask = None
    if args.key_mask:
        key_mask = load_tensor(args.key_mask, "key-mask", boolean=True)
        if key_mask.shape != k.shape[:-1]:
            raise InputError(f"--key-mask shape {key_mask.shape} must be {k.shape[:-1]}")
    scale = 1.0 / math.sqrt(p.head_dim) if args.scale is None else args.scale
    if args.backend == "engine" and args.causal and not -p.max_seq_len <= nk - nq <= p.max_seq_len:
        raise InputError(f"--causal: Nk - Nq = {nk - nq} is beyond the engine's offset range")
    if getattr(args, "out_proj", None):
        return _run_projection(p, args, q, k, v, key_mask, scale)
    if getattr(args, "out_bias", None):
        raise InputError("--out-bias needs --out-proj")
    # --key-mask is True where a key is excluded; --causal aligns the last query with
    # the last key (decoding): torch's lower-right alignment.
    out, info = sdpa(q, k, v, None if key_mask is None else ~key_mask[..., None, :],
                     is_causal="lower_right" if args.causal else False, scale=scale,
                     backend=args.backend, params=p, simulator=args.simulator,
                     return_info=True, log=lambda m: print(m, flush=True))
    masked = info.masked
    exact = attention_float_natural(q, k, v, scale, masked)
    sq, sk, sv = info.q_step, info.k_step, info.v_step
    exact_q = attention_float_natural(info.q_int * sq, info.k_int * sk, info.v_int * sv,
                                      scale, masked)

    out_path = pathlib.Path(args.out)
    atomic_write(out_path, lambda f: np.save(f, out), binary=True)

    vmax = float(np.max(np.abs(v))) or 1.0
    print(f"{args.backend}: {q.shape[:-2]} heads x {nq} queries x {nk} keys, d={p.head_dim}, "
          f"int{p.data_width}; scale {scale:g} -> port {int(info.scale_port)}")
    for label, ref in (("float64 attention on the unquantised inputs", exact),
                       ("float64 attention on the quantised inputs", exact_q)):
        err = np.abs(out - ref)
        print(f"error vs {label}: max {err.max():.3g} ({err.max() / vmax:.2%} of max|v|, "
              f"{err.max() / sv:.2f} output LSB), mean {err.mean():.3g}")
    print(f"wrote {out_path} {out.shape}")
    return 0


def _run_projection(p, args, q, k, v, key_mask, scale):
    """``--out-proj``: the layer's output ``(B, N, d_out)`` through the projection, on
    the golden model or the engine's RTL."""
    import dataclasses

    from .projection import PROJECTION_BACKENDS, PROJECTION_OUT_FRAC, attention_output
    if args.backend not in PROJECTION_BACKENDS:
        raise InputError(f"--out-proj runs on --backend {' or '.join(PROJECTION_BACKENDS)} "
                         f"(the core alone has no projection), not {args.backend}")
    if q.ndim != 4:
        raise InputError(f"--out-proj: q must be (B, H, N, d), got shape {q.shape}")
    W = load_tensor(args.out_proj, "out-proj")
    b = load_tensor(args.out_bias, "out-bias") if args.out_bias else None
    if W.ndim != 2 or W.shape[1] != q.shape[1] * q.shape[-1]:
        raise InputError(f"--out-proj: W has shape {W.shape}; expected (d_out, H*d = "
                         f"{q.shape[1] * q.shape[-1]}) for q of shape {q.shape}")
    if getattr(args, "out_frac_bits", None) is None:    # not given: the projection's default
        p = dataclasses.replace(p, out_frac_bits=PROJECTION_OUT_FRAC)
    attn_mask = None if key_mask is None else ~key_mask[..., None, :]
    y, info = attention_output(q, k, v, W, b, attn_mask=attn_mask,
                               is_causal="lower_right" if args.causal else False, scale=scale,
                               params=p, backend=args.backend, simulator=args.simulator,
                               log=lambda m: print(m, flush=True), return_info=True)
    out_path = pathlib.Path(args.out)
    atomic_write(out_path, lambda f: np.save(f, y), binary=True)
    print(f"{args.backend}: {q.shape[0]} x {q.shape[1]} heads x {q.shape[2]} queries, projection to "
          f"{W.shape[0]} outputs; output step {info['out_step']:.4g}")
    print(f"wrote {out_path} {y.shape}")
    return 0
