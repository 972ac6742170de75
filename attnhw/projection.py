"""``attnhw.attention_output``: a multi-head attention layer's output,
``y_i = W_O · [c_i^1; …; c_i^H] + b_O``, with attention in the hardware's arithmetic
(:func:`attnhw.sdpa`) and the projection by its integer specification
(:mod:`attnhw.golden.out_proj`). The projection has no gateware yet: only the golden
backend computes it.
"""

import numpy as np

from attnhw.golden.out_proj import (OutProjParams, project, project_float,
                                    quantize_projection, requant_multiplier)

from .functional import _like, sdpa

__all__ = ["attention_output"]


def attention_output(query, key, value, W, b=None, attn_mask=None, is_causal=False,
                     scale=None, *, quant="tensor", params=None, weight_width=8,
                     out_step=None, return_info=False):
    """``(B, N, d_out)`` output of an attention layer for ``query, key, value`` of shape
    ``(B, H, N, d)`` (``key``/``value``: ``(B, H, S, d)``) and ``W (d_out, H·d)``,
    ``b (d_out,)`` as ``torch.nn.Linear`` stores them; masks and scale as
    :func:`attnhw.sdpa`.

    ``out_step``: the output's quantisation step; by default calibrated from the same
    inputs: ``max |W · concat(c) + b| / (2^(w-1) - 1)`` on the dequantised attention
    outputs ``c`` (a golden calibration pass). With ``return_info``, also a dict with
    the integers (``c_int``, ``W_int`` per batch, ``y_int``), steps and multipliers.
    """
    _, info = sdpa(query, key, value, attn_mask=attn_mask, is_causal=is_causal, scale=scale,
                   quant=quant, params=params, return_info=True)
    c_int = info.o_int[..., :np.shape(value)[-1]]                # (B, H, N, d), unpadded
    if c_int.ndim != 4:
        raise ValueError(f"query must be (B, H, N, d), got {np.shape(query)}")
    B, H, N, d = c_int.shape
    p = info.params
    op = OutProjParams(heads=H, head_dim=d, d_out=np.shape(W)[0], data_width=p.data_width,
                       weight_width=weight_width, out_width=p.data_width)
    c_step = np.broadcast_to(np.asarray(info.v_step, dtype=np.float64), (B, H))
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
    y = _like(y_int * out_step, query)
    if not return_info:
        return y
    return y, dict(c_int=c_int, c_step=c_step, y_int=y_int, out_step=out_step,
                   projection=per_batch, params=op, sdpa=info)
