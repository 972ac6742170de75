"""Payload layouts of the core's ports, derived from :class:`attnhw.golden.params.AttnParams`.

Verilog port bit order follows the layout field order, LSB first (docs/interface.md).
"""

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

__all__ = ["slice_layout", "out_slice_layout", "query_layout", "kv_layout", "out_layout", "weight_layout",
           "row_layout", "bit_fields"]


def slice_layout(p):
    """``lanes`` signed ``data_width``-bit elements: one beat of a vector."""
    return data.ArrayLayout(signed(p.data_width), p.lanes)


def out_slice_layout(p):
    """``lanes`` signed ``out_width``-bit elements (``s(w+f).f``): one beat of an output."""
    return data.ArrayLayout(signed(p.out_width), p.lanes)


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
    return data.StructLayout({"o": out_slice_layout(p), "last": 1})


def weight_layout(p):
    """Per key, from the online softmax to the accumulator: the exp weight ``e``
    (``u0.E``, 0 if masked), the rescale shift ``delta``, ``first``/``last`` key of the
    query, and the running sum after this key (``u.(E+G)``)."""
    return data.StructLayout({
        "e": unsigned(p.exp_weight_width), "delta": unsigned(p.shift_limit.bit_length()),
        "first": 1, "last": 1, "sum": unsigned(p.sum_width)})


def row_layout(p):
    """A finished accumulator slice (``lanes x s.(E+G)``), the row's sum, ``last``."""
    return data.StructLayout({"acc": data.ArrayLayout(signed(p.acc_width), p.lanes),
                              "sum": unsigned(p.sum_width), "last": 1})


def bit_fields(layout):
    """The flat bit fields of a struct layout whose fields are scalars or arrays of
    scalars: dicts with ``name``, ``lsb``, ``width`` (whole field), ``elements``
    (``None`` for a scalar), ``element_width`` and ``signed``."""
    fields = []
    for name, field in layout:
        shape = field.shape
        count = shape.length if isinstance(shape, data.ArrayLayout) else None
        elem = Shape.cast(shape.elem_shape if count else shape)
        fields.append({"name": name, "lsb": field.offset, "width": elem.width * (count or 1),
                       "elements": count, "element_width": elem.width, "signed": elem.signed})
    return fields
