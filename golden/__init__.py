"""attnhw golden model: the bit-exact specification of the attention core."""

from .params import AttnParams, ParamError
from .attention import attention
from .reference import attention_float, error_stats
from .scale import scale_to_port, port_to_scale

__all__ = ["AttnParams", "ParamError", "attention", "attention_float", "error_stats",
           "scale_to_port", "port_to_scale"]
