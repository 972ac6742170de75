"""attnhw: tools over the attention core (CLI, random-data simulation, user tensors,
synthesis). The specification lives in ``golden/``, the gateware in ``hdl/``."""

__version__ = "0.1.0"
