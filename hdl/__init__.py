"""attnhw gateware: Amaranth components of the attention core and engine.

Read top-down: ``core.AttentionCore`` wires ``dot_product`` -> ``score_scale`` ->
``online_softmax`` (with ``exp2``) -> ``accumulator`` -> ``normalize``. Each stage's
arithmetic is defined in ``attnhw.golden`` under the same name. ``engine.AttentionEngine``
puts ``block`` cores behind a K/V store; ``axis_engine.AxisEngine`` is its AXI4-Stream
top level (``attnhw verilog --top engine``).

The top levels are importable from here: ``from attnhw.hdl import AxisEngine``.
"""

__all__ = ["AttentionCore", "AttentionEngine", "AxisEngine"]

_HOMES = {"AttentionCore": "core", "AttentionEngine": "engine", "AxisEngine": "axis_engine"}


def __getattr__(name):
    # Imported on first use, so that importing one unit does not elaborate all of them.
    if name in _HOMES:
        import importlib
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
