"""Vectorised packing of stream payloads to/from the flat Verilog port bits.

Offsets and widths come from the Amaranth layouts in ``attnhw.hdl.layouts`` (the single
source of the bit order); the bits are moved with NumPy, ~100x faster per beat
than ``Layout.const``.
"""

import numpy as np

from attnhw.hdl.layouts import bit_fields

__all__ = ["pack", "unpack"]


def _fields(layout):
    """(name, offset, elem_width, count, signed) per field."""
    return [(f["name"], f["lsb"], f["element_width"], f["elements"], f["signed"])
            for f in bit_fields(layout)]


def pack(layout, **values):
    """Beats as Python ints. Each value is an int array of shape ``(beats,)`` for a
    scalar field or ``(beats, n)`` for an array field; missing fields are 0."""
    beats = len(next(iter(values.values())))
    bits = np.zeros((beats, layout.size), dtype=np.uint8)
    for name, offset, width, count, _ in _fields(layout):
        if name not in values:
            continue
        v = np.asarray(values[name], dtype=np.int64).reshape(beats, count or 1)
        b = (v[:, :, None] >> np.arange(width)) & 1            # two's complement bits
        bits[:, offset:offset + b.shape[1] * width] = b.reshape(beats, -1)
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack(layout, words):
    """Inverse of :func:`pack`: a dict of int64 arrays, one row per beat."""
    nbytes = (layout.size + 7) // 8
    raw = np.frombuffer(b"".join(int(w).to_bytes(nbytes, "little") for w in words),
                        dtype=np.uint8).reshape(len(words), nbytes)
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :layout.size].astype(np.int64)
    out = {}
    for name, offset, width, count, is_signed in _fields(layout):
        b = bits[:, offset:offset + (count or 1) * width].reshape(len(words), count or 1, width)
        v = (b << np.arange(width)).sum(axis=2)
        if is_signed:
            v = np.where(v >= 1 << (width - 1), v - (1 << width), v)
        out[name] = v if count else v[:, 0]
    return out
