"""The host link's framed protocol, defined once (docs/link.md describes it).

Both ends use this module: the host driver (:mod:`attnhw.board`) builds and parses
frames with it, and the gateware (:mod:`attnhw.hdl.link_receiver`,
:mod:`attnhw.hdl.link_executor`, :mod:`attnhw.hdl.link_transmitter`) takes its
constants and its CRC from here.

A frame, either way::

    SYNC | CODE | SEQ | LEN (2 bytes, little-endian) | PAYLOAD (LEN bytes) | CRC (2 bytes, LE)

- ``SYNC``: :data:`SYNC_COMMAND` from the host, :data:`SYNC_REPLY` from the board.
- ``CODE``: a command (:class:`Command`) from the host, a status (:class:`Status`) from
  the board.
- ``SEQ``: the host's sequence number; the reply repeats it.
- ``CRC``: CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection,
  no final XOR) over ``CODE`` to the end of ``PAYLOAD``.
"""

import enum

__all__ = ["SYNC_COMMAND", "SYNC_REPLY", "HEADER_BYTES", "CRC_BYTES", "CRC_POLY", "CRC_INIT",
           "Command", "Status", "FLAG_USER", "FLAG_LAST", "crc16", "crc16_byte",
           "encode_frame", "parse_frame", "FrameError", "beat_bytes", "pack_beats",
           "unpack_beats"]

SYNC_COMMAND = 0xA5
SYNC_REPLY = 0x5A
#: SYNC, CODE, SEQ, LEN.
HEADER_BYTES = 5
CRC_BYTES = 2
CRC_POLY = 0x1021
CRC_INIT = 0xFFFF

#: Flag byte of a beat: bit 0 the stream's ``tuser``, bit 1 its ``tlast``.
FLAG_USER = 1
FLAG_LAST = 2


class Command(enum.IntEnum):
    """What a host frame asks; the payload of the command and of its OK reply."""
    #: ``-`` -> ``MAX_PAYLOAD (2) | OUT_FIFO_DEPTH (2)``: the link's own sizes.
    INFO = 0x00
    #: ``ADDR (1)`` -> ``VALUE (4, LE)``: an engine register.
    READ_REG = 0x01
    #: ``ADDR (1) | VALUE (4, LE)`` -> ``-``.
    WRITE_REG = 0x02
    #: K/V beats (:func:`pack_beats`, flags: user = the key's padding bit, last) -> ``-``.
    SEND_KV = 0x03
    #: Query beats (flags: last) -> ``-``.
    SEND_Q = 0x04
    #: ``MAX_BEATS (2, LE)`` -> the output beats waiting, at most ``MAX_BEATS`` and
    #: as many as fit a reply (flags: user = a row's final beat, last).
    READ_OUT = 0x05


class Status(enum.IntEnum):
    """A reply's ``CODE``. Only ``OK`` and ``ENGINE_ERROR`` follow an executed command;
    the others change no state."""
    OK = 0x00
    #: The frame's CRC did not match (payload: none).
    BAD_CRC = 0x01
    #: ``LEN`` above the board's ``MAX_PAYLOAD``, or not what the command needs.
    BAD_LENGTH = 0x02
    UNKNOWN_COMMAND = 0x03
    #: The frame stopped for longer than the board's byte timeout (cut short).
    TIMEOUT = 0x04
    #: The command ran, and the engine's STATUS register is not 0 after it (payload:
    #: STATUS, 4 bytes LE, then the command's own reply payload).
    ENGINE_ERROR = 0x05


class FrameError(ValueError):
    """Bytes that are not one whole, intact frame."""


def crc16_byte(crc, byte):
    """``crc`` updated with one byte (most significant bit first)."""
    crc ^= byte << 8
    for _ in range(8):
        crc = ((crc << 1) ^ CRC_POLY if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def crc16(data, crc=CRC_INIT):
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    for byte in data:
        crc = crc16_byte(crc, byte)
    return crc


def encode_frame(sync, code, seq, payload=b""):
    """The bytes of one frame."""
    payload = bytes(payload)
    if not 0 <= seq <= 0xFF or not 0 <= code <= 0xFF or len(payload) > 0xFFFF:
        raise ValueError(f"frame fields out of range: code {code}, seq {seq}, "
                         f"{len(payload)} payload bytes")
    body = bytes([code, seq, len(payload) & 0xFF, len(payload) >> 8]) + payload
    crc = crc16(body)
    return bytes([sync]) + body + bytes([crc & 0xFF, crc >> 8])


def parse_frame(data, sync):
    """``(code, seq, payload)`` of ``data``, which must be exactly one frame starting
    with ``sync``; :class:`FrameError` otherwise."""
    data = bytes(data)
    if len(data) < HEADER_BYTES + CRC_BYTES or data[0] != sync:
        raise FrameError("no frame header")
    length = data[3] | data[4] << 8
    if len(data) != HEADER_BYTES + length + CRC_BYTES:
        raise FrameError(f"LEN {length} does not match the frame's {len(data)} bytes")
    crc = data[-2] | data[-1] << 8
    if crc16(data[1:-2]) != crc:
        raise FrameError("CRC mismatch")
    return data[1], data[2], data[HEADER_BYTES:-CRC_BYTES]


def beat_bytes(bits):
    """Bytes of a beat whose data has ``bits`` bits: the data, little-endian, rounded
    up to whole bytes, then one flag byte."""
    return -(-bits // 8) + 1


def pack_beats(beats, bits):
    """Bytes of ``beats``, a sequence of ``(data, flags)``: ``data`` an unsigned integer
    below ``2**bits``, ``flags`` :data:`FLAG_USER` | :data:`FLAG_LAST`."""
    n = beat_bytes(bits) - 1
    out = bytearray()
    for data, flags in beats:
        if not 0 <= data < 1 << bits or not 0 <= flags <= FLAG_USER | FLAG_LAST:
            raise ValueError(f"beat out of range: data {data:#x}, flags {flags}")
        out += int(data).to_bytes(n, "little") + bytes([flags])
    return bytes(out)


def unpack_beats(payload, bits):
    """The ``(data, flags)`` beats of ``payload`` (:func:`pack_beats`' inverse)."""
    size = beat_bytes(bits)
    if len(payload) % size:
        raise FrameError(f"{len(payload)} bytes are not whole beats of {size}")
    return [(int.from_bytes(payload[i:i + size - 1], "little"), payload[i + size - 1])
            for i in range(0, len(payload), size)]
