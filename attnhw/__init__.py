"""attnhw: a fixed-point hardware attention engine.

- :func:`attnhw.sdpa`: PyTorch's scaled_dot_product_attention in the hardware's arithmetic.
- :class:`attnhw.KVCache`: decoding with a key/value cache in the same arithmetic.
- ``attnhw.golden``: the NumPy golden model (the specification).
- ``attnhw.hdl``: the Amaranth gateware (``AttentionCore``, ``AttentionEngine``).
- ``attnhw.sim``: cocotb testbenches and runners; ``attnhw`` on the command line.
"""

from .functional import SdpaInfo, sdpa, sdpa_ideal
from .kv_cache import KVCache
from .projection import attention_output
from .version import __version__

__all__ = ["sdpa", "sdpa_ideal", "SdpaInfo", "KVCache", "attention_output", "__version__"]
