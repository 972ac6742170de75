"""Run a Hugging Face ``transformers`` model's attention through :func:`attnhw.sdpa`.

Models built on transformers' ``AttentionInterface`` (BERT, Llama, ... in transformers
>= 4.48) look their attention function up by name; :func:`attnhw_attention` registers
one that calls :func:`attnhw.sdpa` (or the ideal int8 pipeline,
:func:`attnhw.sdpa_ideal`) and switches the model to it for the duration of a ``with``
block. Masks arrive as torch's boolean SDPA masks (True: may attend).
"""

import contextlib

import numpy as np

from attnhw.golden.errors import InputError

from .functional import sdpa, sdpa_ideal

__all__ = ["PIPELINES", "attnhw_attention"]

PIPELINES = ("hardware", "ideal")


def _lsb_errors(out, ref, v_step):
    """``|out - ref|`` in output steps (per head for per-head steps): (max, mean)."""
    err = np.abs(out - ref) / np.asarray(v_step)[..., None, None]
    return float(err.max()), float(err.mean())


@contextlib.contextmanager
def attnhw_attention(model, *, quant="tensor", data_width=8, pipeline="hardware", record=None):
    """Inside the ``with`` block, every attention layer of ``model`` computes in
    attnhw's arithmetic.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    quant : {"tensor", "head"}
        Quantisation steps, as :func:`attnhw.sdpa`'s ``quant``.
    data_width : int
        Bits of q, k, v and the output.
    pipeline : {"hardware", "ideal"}
        ``attnhw.sdpa`` (the hardware's arithmetic, golden model) or
        ``attnhw.sdpa_ideal`` (the same integers, float softmax).
    record : list, optional
        Gets one dict per attention call: ``layer`` (the order in which layers were
        first called), ``err_lsb_max`` and ``err_lsb_mean`` against torch's float
        SDPA on the same (unquantised) inputs, in output steps.
    """
    import torch
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if pipeline not in PIPELINES:
        raise InputError(f"pipeline={pipeline!r}: choose one of {', '.join(PIPELINES)}")
    layers = {}

    def forward(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        # transformers' own SDPA path: causal only without an explicit mask.
        is_causal = (query.shape[2] > 1 and attention_mask is None
                     and getattr(module, "is_causal", False))
        args = dict(attn_mask=attention_mask, is_causal=is_causal, scale=scaling,
                    enable_gqa=key.shape[1] != query.shape[1], quant=quant,
                    params={"data_width": data_width})
        if pipeline == "hardware":
            out, info = sdpa(query, key, value, return_info=True, **args)
        else:
            out, info = sdpa_ideal(query, key, value, return_info=True, **args)
        if record is not None:
            q, k, v = (t.detach().double() for t in (query, key, value))
            ref = torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=attention_mask, is_causal=is_causal, scale=scaling,
                enable_gqa=args["enable_gqa"])
            worst, mean = _lsb_errors(out.double().numpy(), ref.numpy(), info.v_step)
            layer = layers.setdefault(id(module), len(layers))
            record.append(dict(layer=layer, err_lsb_max=worst, err_lsb_mean=mean))
        return out.transpose(1, 2).contiguous(), None

    name = f"attnhw_{pipeline}_{quant}_w{data_width}"
    AttentionInterface.register(name, forward)
    AttentionMaskInterface.register(name, sdpa_mask)
    before = model.config._attn_implementation
    model.set_attn_implementation(name)
    try:
        yield model
    finally:
        model.set_attn_implementation(before)
