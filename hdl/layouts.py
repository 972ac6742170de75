"""Payload layouts of the core's ports, derived from :class:`golden.params.AttnParams`.

Verilog port bit order follows the layout field order, LSB first (see README).
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

__all__ = ["slice_layout", "query_layout", "kv_layout", "out_layout"]


def slice_layout(p):
    """``lanes`` signed ``data_width``-bit elements: one beat of a vector."""
    return data.ArrayLayout(signed(p.data_width), p.lanes)


def query_layout(p):
    """Query beat: a slice of q and the scale (``u(scale_width-scale_frac).scale_frac``),
    which is taken from the query's final beat."""
    return data.StructLayout({"q": slice_layout(p), "scale": unsigned(p.scale_width)})


def kv_layout(p):
    """Key/value beat: a slice of k_j and v_j, ``masked`` (1: key j is excluded, taken
    from the key's final beat) and ``last`` (on the final beat of the final key)."""
    return data.StructLayout({"k": slice_layout(p), "v": slice_layout(p),
                              "masked": 1, "last": 1})


def out_layout(p):
    """Output beat: a slice of the output row and ``last`` on the row's final beat."""
    return data.StructLayout({"o": slice_layout(p), "last": 1})
