"""Register copies that synthesis keeps apart, so no control register drives every lane."""

from amaranth.hdl import Signal

__all__ = ["KEEP", "register_copies", "register_tree"]

# Attributes of a register that synthesis must keep apart from its equals (see
# register_copies): a copy placed beside the logic it drives.
KEEP = {"keep": 1}


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
                     init=init, attrs=KEEP)
        if en is None:
            m.d.sync += reg.eq(value)
        else:
            with m.If(en):
                m.d.sync += reg.eq(value)
        copies.append(reg)
    return copies


def register_tree(m, value, lanes, name, *, reset_less=True):
    """``value`` two cycles later, one copy per lane, through one copy per 4 lanes: no
    flip-flop drives more than a few others, so each copy can sit near its lane
    (a wide fan-out from one source placed far away costs more than the extra cycle).
    ``reset_less`` as for :func:`register_copies`."""
    groups = register_copies(m, value, -(-lanes // 4), f"{name}_g", reset_less=reset_less)
    return [register_copies(m, groups[n // 4], 1, f"{name}{n}", reset_less=reset_less)[0]
            for n in range(lanes)]
