"""Beat and settings layouts of the engine's ports and of its units' events."""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from .layouts import out_slice_layout, slice_layout

__all__ = ["engine_query_layout", "engine_out_layout", "engine_settings_layout",
           "query_event_layout", "limit_event_layout"]


def engine_query_layout(p):
    """Query beat: a slice of q; ``last`` on the final beat of the head's final query."""
    return data.StructLayout({"q": slice_layout(p), "last": 1})


def engine_out_layout(p):
    """Output beat: a slice of an output row; ``row_last`` on each row's final beat,
    ``last`` on the final beat of the head's final row."""
    return data.StructLayout({"o": out_slice_layout(p), "row_last": 1, "last": 1})


def engine_settings_layout(p):
    """Runtime settings, sampled at each query's final beat (``attnhw.golden.engine``):
    ``scale`` (the core's scale port format), ``causal``, ``offset`` (query ``i`` sees
    keys ``j <= i + offset``; ``s.0`` in ``[-max_seq_len, max_seq_len]``) and
    ``key_limit`` (keys ``j >= key_limit`` are masked; 0: no limit) and ``group_rows``
    (grouped-query attention: the head's queries are query heads of ``group_rows``
    queries each, and ``i`` counts within each; 0: no groups)."""
    n = p.max_seq_len
    return data.StructLayout({"scale": unsigned(p.scale_width), "causal": 1,
                              "offset": signed(n.bit_length() + 1),
                              "key_limit": unsigned(n.bit_length()),
                              "group_rows": unsigned(n.bit_length())})


def _slot_shape(p):
    return range(max(2, p.block))


def query_event_layout(p):
    """A query handed to its core (one cycle's event, no handshake): ``index`` in its
    head, or in its query head with ``group_rows`` (saturated at ``2 * max_seq_len``,
    where ``i + offset + 1 > max_seq_len`` anyway), ``slot`` (its core), the ``settings`` sampled at its final beat,
    ``block_end`` (the final query of its block) and ``head_end`` (of its head)."""
    n = p.max_seq_len
    return data.StructLayout({"valid": 1, "index": range(2 * n + 1), "slot": _slot_shape(p),
                              "settings": engine_settings_layout(p), "block_end": 1,
                              "head_end": 1})


def limit_event_layout(p):
    """A query's key limit (keys ``j >= limit`` are masked), with its ``slot``,
    ``block_end`` and ``head_end``."""
    return data.StructLayout({"valid": 1, "slot": _slot_shape(p), "block_end": 1,
                              "head_end": 1, "limit": unsigned(p.max_seq_len.bit_length())})
