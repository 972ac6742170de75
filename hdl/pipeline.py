"""Pipeline registers shared by the units whose stages all stall together."""

from amaranth.hdl import Signal

__all__ = ["delay"]


def delay(m, en, value, stages, name):
    """``value`` through ``stages`` registers that advance when ``en`` is high."""
    for i in range(stages):
        reg = Signal.like(value, name=f"{name}_d{i}") if isinstance(value, Signal) \
            else Signal(value.shape(), name=f"{name}_d{i}")
        with m.If(en):
            m.d.sync += reg.eq(value)
        value = reg
    return value
