"""``attnhw run``: attention on the user's float tensors through the exact hardware
arithmetic (the golden model, or the RTL in simulation)."""

import math
import pathlib

import numpy as np

from golden.attention import attention
from golden.params import AttnParams
from golden.quantize import quantize
from golden.reference import softmax_weighted_sum
from golden.scale import scale_to_port

from .outputs import atomic_write

__all__ = ["run_files", "attention_hw", "attention_float_natural", "load_tensor"]


def load_tensor(path, name, *, boolean=False):
    """A ``.npy`` file as a finite float64 (or bool) array; ``ValueError`` otherwise."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"--{name}: no such file: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:                       # noqa: BLE001 - any unreadable file
        raise ValueError(f"--{name}: {path} is not a readable .npy file ({e.__class__.__name__})")
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"--{name}: {path} holds several arrays; give one .npy array")
    if boolean:
        if arr.dtype.kind not in "biu":
            raise ValueError(f"--{name}: dtype {arr.dtype} is not bool or integer")
        return arr != 0
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"--{name}: dtype {arr.dtype} is not a real number type")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"--{name}: {path} contains NaN or Inf")
    return arr


def build_mask(nq, nk, key_mask, causal, batch_shape):
    """Boolean ``(..., Nq, Nk)``: True where query i may not see key j."""
    masked = np.zeros(batch_shape + (nq, nk), dtype=bool)
    if key_mask is not None:
        masked |= key_mask[..., None, :]
    if causal:
        masked |= np.arange(nk)[None, :] > np.arange(nq)[:, None] + (nk - nq)
    return masked


def attention_float_natural(q, k, v, scale, masked):
    """Exact float64 ``softmax(scale q k^T, masked -> -inf) v``; all-masked rows 0."""
    x = np.einsum("...id,...jd->...ij", q, k) * scale
    return softmax_weighted_sum(x, v, masked, exp=np.exp)


def attention_hw(p, q, k, v, masked, scale, backend="golden", simulator="verilator",
                 key_mask=None, causal=False):
    """Quantise per tensor, compute in hardware arithmetic, dequantise. ``backend``:
    ``golden``, ``rtl`` (the core) or ``engine`` (the engine's AXI4-Stream top, one
    head per leading index, its own masks from ``key_mask`` and ``causal``, which
    must be what ``masked`` says).

    Returns ``(out_float, info)`` with the quantisation steps and the integer tensors.
    """
    qi, sq = quantize(q, p.data_width)
    ki, sk = quantize(k, p.data_width)
    vi, sv = quantize(v, p.data_width)
    port, rel_err = scale_to_port(scale * sq * sk, p)
    if backend == "golden":
        o = attention(qi, ki, vi, port, p, masked)
    elif backend == "rtl":
        o = _attention_rtl(p, qi, ki, vi, masked, port, simulator)
    elif backend == "engine":
        o = _attention_engine(p, qi, ki, vi, key_mask, causal, port, simulator)
    else:
        raise ValueError(f"--backend {backend!r}: choose golden, rtl or engine")
    info = dict(q_int=qi, k_int=ki, v_int=vi, steps=(sq, sk, sv), scale_port=port,
                scale_rel_err=rel_err)
    return o * sv, info


def _attention_rtl(p, qi, ki, vi, masked, port, simulator):
    from sim.jobs import make_job
    from sim.runner import run_job
    nq, nk, d = qi.shape[-2], ki.shape[-2], p.head_dim
    batch = qi.shape[:-2]
    nb = int(np.prod(batch, dtype=np.int64))
    q = qi.reshape(nb * nq, d)
    k = np.repeat(ki.reshape(nb, 1, nk, d), nq, axis=1).reshape(nb * nq, nk, d)
    v = np.repeat(vi.reshape(nb, 1, nk, d), nq, axis=1).reshape(nb * nq, nk, d)
    m = np.broadcast_to(masked, batch + (nq, nk)).reshape(nb * nq, nk)
    print(f"simulating {nb * nq} queries x {nk} keys on {simulator} ...", flush=True)
    res = run_job(make_job(p, q, k, v, m, port), simulator=simulator)
    if res["mismatches"] or res["missing_rows"]:
        raise RuntimeError(f"RTL differs from the golden model in {res['mismatches']} words "
                           f"({res['missing_rows']} rows missing); see {res['work_dir']}")
    return res["o"].reshape(batch + (nq, d))


def _attention_engine(p, qi, ki, vi, key_mask, causal, port, simulator):
    from sim.runner import run_engine_job
    nq, nk, d = qi.shape[-2], ki.shape[-2], p.head_dim
    batch = qi.shape[:-2]
    pads = (np.zeros(batch + (nk,), dtype=bool) if key_mask is None
            else np.broadcast_to(key_mask, batch + (nk,))).reshape(-1, nk)
    heads = [dict(q=q, k=k, v=v, pad=pad, scale=int(port), causal=bool(causal),
                  offset=nk - nq if causal else 0, key_limit=0)
             for q, k, v, pad in zip(qi.reshape(-1, nq, d), ki.reshape(-1, nk, d),
                                     vi.reshape(-1, nk, d), pads)]
    print(f"simulating the engine: {len(heads)} heads x {nq} queries x {nk} keys, "
          f"block {p.block}, on {simulator} ...", flush=True)
    res = run_engine_job(p, heads, simulator=simulator)
    if res["mismatches"] or res["rows_out"] != res["rows_expected"]:
        raise RuntimeError(f"the engine differs from the golden model in {res['mismatches']} "
                           f"words; see {res['work_dir']}")
    print(f"engine: {res['cycles']:,} cycles", flush=True)
    return res["o"].reshape(batch + (nq, d))


def _params_for(p_args, d):
    """Parameters with head_dim taken from the tensors when not given."""
    kw = dict(p_args)
    kw.setdefault("head_dim", d)
    if "lanes" not in kw:
        kw["lanes"] = math.gcd(kw["head_dim"], AttnParams.lanes)
    return AttnParams(**kw)


def run_files(p, args):
    """The CLI: load, check, compute, report, write the output atomically."""
    q = load_tensor(args.q, "q")
    k = load_tensor(args.k, "k")
    v = load_tensor(args.v, "v")
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.ndim < 2 or t.shape[-1] == 0 or t.shape[-2] == 0:
            raise ValueError(f"--{name}: shape {t.shape} must be (..., N, d) with N, d > 0")
    if k.shape != v.shape:
        raise ValueError(f"--k {k.shape} and --v {v.shape} must have the same shape")
    if q.shape[:-2] != k.shape[:-2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"--q {q.shape} and --k {k.shape} must agree in the batch "
                         "dimensions and in d")
    given = {f: getattr(args, f) for f in AttnParams.field_names() if getattr(args, f) is not None}
    p = _params_for(given, q.shape[-1])
    if q.shape[-1] != p.head_dim:
        raise ValueError(f"tensors have d={q.shape[-1]} but --head-dim is {p.head_dim}")
    nq, nk = q.shape[-2], k.shape[-2]
    p.check_seq_len(nk, "--k")
    key_mask = None
    if args.key_mask:
        key_mask = load_tensor(args.key_mask, "key-mask", boolean=True)
        if key_mask.shape != k.shape[:-1]:
            raise ValueError(f"--key-mask shape {key_mask.shape} must be {k.shape[:-1]}")
    scale = 1.0 / math.sqrt(p.head_dim) if args.scale is None else args.scale
    masked = build_mask(nq, nk, key_mask, args.causal, q.shape[:-2])

    if args.backend == "engine" and args.causal and not -p.max_seq_len <= nk - nq <= p.max_seq_len:
        raise ValueError(f"--causal: Nk - Nq = {nk - nq} is beyond the engine's offset range")
    out, info = attention_hw(p, q, k, v, masked, scale, args.backend, args.simulator,
                             key_mask=key_mask, causal=args.causal)
    exact = attention_float_natural(q, k, v, scale, masked)
    sq, sk, sv = info["steps"]
    exact_q = attention_float_natural(info["q_int"] * sq, info["k_int"] * sk,
                                      info["v_int"] * sv, scale, masked)

    out_path = pathlib.Path(args.out)
    atomic_write(out_path, lambda f: np.save(f, out), binary=True)

    vmax = float(np.max(np.abs(v))) or 1.0
    print(f"{args.backend}: {q.shape[:-2]} heads x {nq} queries x {nk} keys, d={p.head_dim}, "
          f"int{p.data_width}; scale {scale:g} -> port {info['scale_port']} "
          f"(rel. error {info['scale_rel_err']:.1e})")
    for label, ref in (("float64 attention on the unquantised inputs", exact),
                       ("float64 attention on the quantised inputs", exact_q)):
        err = np.abs(out - ref)
        print(f"error vs {label}: max {err.max():.3g} ({err.max() / vmax:.2%} of max|v|, "
              f"{err.max() / sv:.2f} output LSB), mean {err.mean():.3g}")
    print(f"wrote {out_path} {out.shape}")
    return 0
