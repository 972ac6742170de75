"""The framing rule of a key/value stream (``attnhw.golden.framing``) in hardware."""

from amaranth.hdl import Mux, Signal

__all__ = ["key_framing"]


def key_framing(m, p, take, last, clear, err_last_misplaced, err_too_many_keys):
    """Count slices and keys of a stream of ``slices``-beat keys in ``m``.

    ``take``: a beat moves; ``last``: its ``last`` flag. The sequence ends at the
    final beat of a key with ``last``, or of key ``max_seq_len``; the sticky flags
    ``err_last_misplaced`` (``last`` on another beat, ignored) and
    ``err_too_many_keys`` (closed at ``max_seq_len``) are set here and cleared by
    ``clear``. Returns ``(slice_idx, key_idx, end_of_key, end)``: the current beat's
    slice and key, whether it is a key's final beat, and whether it ends the sequence.
    """
    slice_idx = Signal(range(max(2, p.slices)))     # >= 1 bit: no zero-width wire in Verilog
    key_idx = Signal(range(max(2, p.max_seq_len)))
    end_of_key = slice_idx == p.slices - 1
    at_limit = key_idx == p.max_seq_len - 1
    end = end_of_key & (last | at_limit)
    with m.If(take):
        m.d.sync += slice_idx.eq(Mux(end_of_key, 0, slice_idx + 1))
        with m.If(end_of_key):
            m.d.sync += key_idx.eq(Mux(end, 0, key_idx + 1))
    with m.If(clear):
        m.d.sync += [err_last_misplaced.eq(0), err_too_many_keys.eq(0)]
    with m.If(take & last & ~end_of_key):
        m.d.sync += err_last_misplaced.eq(1)
    with m.If(take & end_of_key & at_limit & ~last):
        m.d.sync += err_too_many_keys.eq(1)
    return slice_idx, key_idx, end_of_key, end
