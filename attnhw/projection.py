"""``attnhw.attention_output``: a multi-head attention layer's output,
``y_i = W_O · [c_i^1; …; c_i^H] + b_O``, with attention in the hardware's arithmetic
(:func:`attnhw.sdpa`) and the projection by its integer specification
(:mod:`attnhw.golden.out_proj`), on the golden model or on the engine's RTL with its
output projection (``out_features``, :class:`attnhw.hdl.out_proj.OutProjection`).
"""

import dataclasses

import numpy as np

from attnhw.golden.errors import InputError, ToolError
from attnhw.golden.out_proj import (ProjParams, project, project_float,
                                    quantize_projection, requant_multiplier)

from .functional import _like, sdpa

__all__ = ["attention_output", "PROJECTION_BACKENDS", "PROJECTION_OUT_FRAC"]

#: Where the projection runs (the core alone has none).
PROJECTION_BACKENDS = ("golden", "engine")
#: The rows' fraction bits below v's step (``AttnParams.out_frac_bits``) unless the
#: parameters say otherwise: int8 rows cost 1.3-1.6x the ideal pipeline's error,
#: 4 more bits bring it within 1.02x (docs/numerics.md, make proj-accuracy).
PROJECTION_OUT_FRAC = 4


def _with_out_frac(params):
    """``params`` with ``out_frac_bits`` defaulting to :data:`PROJECTION_OUT_FRAC` (an
    ``AttnParams`` instance is taken as it is)."""
    if params is None:
        return {"out_frac_bits": PROJECTION_OUT_FRAC}
    if isinstance(params, dict):
        return {"out_frac_bits": PROJECTION_OUT_FRAC, **params}
    return params


def attention_output(query, key, value, W, b=None, attn_mask=None, is_causal=False,
                     scale=None, *, quant="tensor", params=None, weight_width=8,
                     out_step=None, backend="golden", simulator="verilator", log=None,
                     return_info=False):
    """``(B, N, d_out)`` output of an attention layer for ``query, key, value`` of shape
    ``(B, H, N, d)`` (``key``/``value``: ``(B, H, S, d)``) and ``W (d_out, H·d)``,
    ``b (d_out,)`` as ``torch.nn.Linear`` stores them; masks and scale as
    :func:`attnhw.sdpa`.

    ``params`` (an ``AttnParams`` or a dict of overrides): a dict, or none, gets
    ``out_frac_bits`` = :data:`PROJECTION_OUT_FRAC` unless it sets it: the attention
    rows enter the projection with 4 fraction bits below v's step.

    ``out_step``: the output's quantisation step; by default calibrated from the same
    inputs: ``max |W · concat(c) + b| / (2^(w-1) - 1)`` on the dequantised attention
    outputs ``c`` (a golden calibration pass). With ``return_info``, also a dict with
    the integers (``c_int``, ``W_int`` per batch, ``y_int``), steps and multipliers.

    ``backend="engine"``: the engine's RTL with its output projection, one run per
    batch element (its weights carry that element's value steps), the queries in
    tiles of ``params.tile_rows``, ``params.proj_lanes`` outputs at once (or the
    largest count below it that the gateware takes); its output words equal the
    golden ones (the testbench checks each). Masks as the engine takes them (key
    padding and causal).
    """
    if backend not in PROJECTION_BACKENDS:
        raise InputError(f"backend={backend!r}: the output projection runs on "
                         f"{' or '.join(PROJECTION_BACKENDS)} (the core has none)")
    _, info = sdpa(query, key, value, attn_mask=attn_mask, is_causal=is_causal, scale=scale,
                   quant=quant, params=_with_out_frac(params), return_info=True)
    c_int = info.o_int[..., :np.shape(value)[-1]]                # (B, H, N, d), unpadded
    if c_int.ndim != 4:
        raise InputError(f"query must be (B, H, N, d), got {np.shape(query)}")
    B, H, N, d = c_int.shape
    p = info.params
    # The rows are s(w+f).f: their step is v's over 2^f (f = params.out_frac_bits).
    op = ProjParams(heads=H, head_dim=d, d_out=np.shape(W)[0], data_width=p.out_width,
                       weight_width=weight_width, out_width=p.data_width,
                       mult_bits=p.proj_mult_bits)
    c_step = np.broadcast_to(np.asarray(info.v_step, dtype=np.float64)
                             * 2.0 ** -p.out_frac_bits, (B, H))
    rows = np.moveaxis(c_int, 1, 2)                              # (B, N, H, d)
    # Weights per batch (each head's value step folded in); checks W and b first.
    per_batch = [dict(zip(("W_int", "w_step", "b_int"), quantize_projection(W, b, c_step[i], op)))
                 for i in range(B)]
    if out_step is None:
        exact = project_float(rows * c_step[:, None, :, None], W, b)
        out_step = (float(np.max(np.abs(exact))) or 1.0) / ((1 << (op.out_width - 1)) - 1)
    y_int = np.zeros((B, N, op.d_out), dtype=np.int64)
    for i, pb in enumerate(per_batch):
        pb["M"], pb["sh"] = zip(*(requant_multiplier(s / out_step, op) for s in pb["w_step"]))
        y_int[i] = project(rows[i], pb["W_int"], pb["b_int"], pb["M"], pb["sh"], op)
    if backend == "engine":
        y_int = _on_engine(info, per_batch, op, simulator, log or (lambda *a: None))
    y = _like(y_int * out_step, query)
    if not return_info:
        return y
    return y, dict(c_int=c_int, c_step=c_step, y_int=y_int, out_step=out_step,
                   projection=per_batch, params=op, sdpa=info)


def _on_engine(info, per_batch, op, simulator, log):
    """``y_int (B, N, d_out)`` from the engine's RTL with the projection, one run per
    batch element; raises if any word differs from golden."""
    from attnhw.sim.proj_job import tile_passes
    from attnhw.sim.runner import run_engine_job

    p = info.params
    if info.engine_form is None:
        raise InputError("backend 'engine': its masks are per-key padding and causal; this "
                         "attn_mask differs between queries of a head")
    if p.head_dim != op.head_dim:
        raise InputError(f"backend 'engine': params.head_dim={p.head_dim} must equal the "
                         f"tensors' d={op.head_dim} (the projection takes unpadded rows)")
    lanes = next((n for n in range(min(p.proj_lanes, op.d_out), 0, -1)
                  if _gateware_takes(dataclasses.replace(op, lanes=n))), None)
    if lanes is None:
        raise InputError(f"backend 'engine': no projection width suits d_out={op.d_out} "
                         f"with {op.weight_width}-bit weights "
                         f"({_gateware_takes(op, reason=True)})")
    pe = dataclasses.replace(p, out_features=op.d_out, proj_heads=op.heads, proj_lanes=lanes,
                             weight_width=op.weight_width, proj_mult_bits=op.mult_bits)
    key_pad, offset = info.engine_form
    B, H = len(per_batch), op.heads
    ports = np.broadcast_to(info.scale_port, (B, H))
    key_pad = np.broadcast_to(key_pad, (B, H, info.k_int.shape[-2]))
    y = []
    for i, pb in enumerate(per_batch):
        heads = [dict(q=info.q_int[i, h], k=info.k_int[i, h], v=info.v_int[i, h],
                      pad=key_pad[i, h], scale=int(ports[i, h]), causal=offset is not None,
                      offset=int(offset or 0), key_limit=0) for h in range(H)]
        log(f"simulating the engine with its projection: batch element {i + 1} of {B}, "
            f"{H} heads x {len(heads[0]['q'])} queries, d_out {op.d_out} ...")
        res = run_engine_job(pe, tile_passes([heads], pe.out_proj), simulator=simulator,
                             log=log, projection=(pb["W_int"], pb["b_int"], pb["M"], pb["sh"]))
        if res["mismatches"] or res["rows_out"] != res["rows_expected"]:
            raise ToolError(f"the engine's projection differs from golden in "
                               f"{res['mismatches']} words; see {res['work_dir']}")
        log(f"engine: {res['cycles']:,} cycles")
        y.append(res["o"])
    return np.stack(y)


def _gateware_takes(op, reason=False):
    """Whether the gateware takes ``op`` (:func:`attnhw.hdl.out_proj.check_projection`);
    with ``reason``, the message of the first rule it breaks."""
    from attnhw.hdl.out_proj import check_projection
    try:
        check_projection(op)
    except ValueError as e:
        return str(e) if reason else False
    return "" if reason else True
