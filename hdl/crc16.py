"""The link's CRC-16 update for one byte, as logic: each next bit is an XOR of bits of
the CRC and the byte, found by running :func:`attnhw.golden.link.crc16_byte`'s bit steps
on symbols instead of bits."""

import functools
import operator

from amaranth.hdl import Cat, Const

from attnhw.golden.link import CRC_POLY

__all__ = ["crc16_next", "crc16_terms"]


@functools.cache
def crc16_terms():
    """For each of the 16 next bits, the inputs it XORs: ``("c", i)`` bit ``i`` of
    the CRC, ``("b", i)`` bit ``i`` of the byte (the update is linear over GF(2))."""
    bits = [frozenset({("c", i)}) for i in range(16)]
    for i in range(8):
        bits[8 + i] = bits[8 + i] ^ {("b", i)}
    for _ in range(8):
        top = bits[15]
        bits = [frozenset()] + bits[:15]
        bits = [b ^ top if CRC_POLY >> i & 1 else b for i, b in enumerate(bits)]
    return tuple(tuple(sorted(b)) for b in bits)


def crc16_next(crc, byte):
    """``crc`` (16 bits) updated with ``byte`` (8 bits), most significant bit first:
    16 XORs of at most a few inputs each."""
    src = {"c": crc, "b": byte}
    return Cat(functools.reduce(operator.xor, (src[k][i] for k, i in terms), Const(0, 1))
               for terms in crc16_terms())
