"""The ideal int8 attention tests compare with: torch's float SDPA on the dequantised
integers that attnhw.sdpa used (its SdpaInfo), so only quantisation separates it from
float attention."""

import numpy as np
import torch

__all__ = ["ideal_attention"]


def ideal_attention(info, ev, attn_mask=None, is_causal=False, scale=None):
    """``(..., L, ev)`` float64 attention on ``info``'s dequantised q, k, v."""
    deq = [torch.from_numpy(i * np.asarray(s)[..., None, None])
           for i, s in ((info.q_int, info.q_step), (info.k_int, info.k_step),
                        (info.v_int, info.v_step))]
    out = torch.nn.functional.scaled_dot_product_attention(
        *deq, attn_mask=attn_mask, is_causal=is_causal, scale=scale)
    return out[..., :ev].numpy()
