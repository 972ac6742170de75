"""Register copies that synthesis keeps apart, so no control register drives every lane."""

from amaranth.hdl import Signal

__all__ = ["register_copies"]


def register_copies(m, value, count, name, *, en=None, reset_less=True, init=0):
    """``count`` registers that each take ``value`` (when ``en`` is high, if given).

    Each copy drives one lane's share of a wide fan-out (a shift amount, a select, an
    enable): one register driving 16 lanes x 40 bits is a routing-bound net, 16 copies
    are short local ones. The copies carry ``keep``, so Yosys (``attrmvcp -attr keep``
    in :mod:`attnhw.synth`'s flow puts it on the flip-flops before ``opt_merge``) and
    vendor tools do not merge them back into one. Reset-less by default (data that a
    separately reset ``valid`` qualifies); ``reset_less=False`` (reset to ``init``)
    for control state.
    """
    copies = []
    for n in range(count):
        reg = Signal(value.shape(), name=f"{name}_copy{n}", reset_less=reset_less,
                     init=init, attrs={"keep": 1})
        if en is None:
            m.d.sync += reg.eq(value)
        else:
            with m.If(en):
                m.d.sync += reg.eq(value)
        copies.append(reg)
    return copies
