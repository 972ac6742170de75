"""Host driver for the engine on a board behind the UART link (:mod:`attnhw.golden.link`).

``Board(port="/dev/ttyUSB0")`` opens the port with pyserial; ``Board(transport=t)``
takes any object with ``write(bytes)``, ``read(n) -> bytes`` (fewer than ``n`` bytes
after its timeout) and ``reset_input_buffer()``, as the simulated link does
(``attnhw.sim.tb_board``).
"""

import dataclasses

import numpy as np

from attnhw.golden.engine import check_mode, engine_attention
from attnhw.golden.errors import InputError
from attnhw.golden.link import (CRC_BYTES, FLAG_LAST, FLAG_USER, HEADER_BYTES, SYNC_COMMAND,
                                SYNC_REPLY, Command, FrameError, Status, beat_bytes,
                                encode_frame, pack_beats, parse_frame, unpack_beats)
from attnhw.golden.params import AttnParams
from attnhw.hdl.board_link import link_beat_bits
from attnhw.hdl.registers import BY_NAME, ID_VALUE, STATUS_BITS, version_word

__all__ = ["Board", "LinkError", "EngineError", "BoardMismatch", "LinkStats", "params_from_regs"]

#: Replies that say the frame did not arrive intact: the frame is sent again.
_RESEND = {Status.BAD_CRC, Status.BAD_LENGTH, Status.TIMEOUT}


class LinkError(RuntimeError):
    """The link gave no intact answer after every retry, or answered nonsense."""


class EngineError(RuntimeError):
    """A command ran, and the engine's STATUS register reports an error."""

    def __init__(self, status):
        self.status = status
        names = [n for i, n in enumerate(STATUS_BITS) if status >> i & 1]
        super().__init__(f"engine STATUS 0x{status:02X} ({', '.join(names)})")


class BoardMismatch(RuntimeError):
    """The board carries a build for other parameters (or is no attnhw engine)."""


@dataclasses.dataclass
class LinkStats:
    """What the link cost: frames sent (resends included), resends and why, and
    ``READ_OUT`` polls that found no output ready."""
    frames: int = 0
    resends: int = 0
    no_reply: int = 0
    refused: int = 0
    bad_reply: int = 0
    empty_polls: int = 0


def params_from_regs(regs):
    """:class:`AttnParams` from the board's read-only registers (the other parameters
    at their defaults)."""
    shape, parallel = regs["SHAPE"], regs["PARALLEL"]
    return AttnParams(head_dim=shape & 0xFFFF, data_width=shape >> 16,
                      lanes=parallel & 0xFFFF, block=parallel >> 16,
                      max_seq_len=regs["MAX_SEQ_LEN"])


class _Registers:
    """``board.regs["SCALE"] = x``, ``board.regs["ID"]``: the engine's registers by name."""

    def __init__(self, board):
        self._board = board

    def __getitem__(self, name):
        reply = self._board.command(Command.READ_REG, bytes([BY_NAME[name].addr]))
        return int.from_bytes(reply, "little")

    def __setitem__(self, name, value):
        self._board.command(Command.WRITE_REG, bytes([BY_NAME[name].addr])
                            + (int(value) & 0xFFFF_FFFF).to_bytes(4, "little"))


class Board:
    """The engine on a board (or its simulation), reached through the framed link.

    On connect it asks the link's sizes (``INFO``) and checks ``ID``, ``VERSION`` and,
    if ``params`` is given, that the board's SHAPE, MAX_SEQ_LEN and PARALLEL are those
    of ``params`` (:class:`BoardMismatch` otherwise).

    Every command is resent, with the same sequence number, when its reply is missing,
    corrupt or says the frame was not intact; the board runs a command once and answers
    a resend with its stored reply. :attr:`stats` counts what that cost.
    """

    def __init__(self, port=None, *, transport=None, params=None, baud=3_000_000,
                 timeout=0.5, retries=16):
        if (port is None) == (transport is None):
            raise InputError("give the board's serial port or a transport, not both")
        if transport is None:
            transport = _open_serial(port, baud, timeout)
        self.transport, self.retries = transport, retries
        self.stats = LinkStats()
        self._seq = 0
        self.max_payload = 0xFFFF
        self.regs = _Registers(self)
        info = self.command(Command.INFO)
        if len(info) != 4:
            raise BoardMismatch(f"INFO answered {len(info)} bytes, not 4: no attnhw link")
        self.max_payload = int.from_bytes(info[:2], "little")
        self.out_fifo_depth = int.from_bytes(info[2:], "little")
        ident = self.regs["ID"]
        if ident != ID_VALUE:
            raise BoardMismatch(f"register ID reads 0x{ident:08X}, not 0x{ID_VALUE:08X}: "
                                "no attnhw engine")
        version = self.regs["VERSION"]
        if version >> 8 != version_word() >> 8:
            raise BoardMismatch(f"the board's build is attnhw {version >> 16}.{version >> 8 & 0xFF}"
                                f".{version & 0xFF}, this driver {version_word() >> 16}."
                                f"{version_word() >> 8 & 0xFF}")
        found = {n: self.regs[n] for n in ("SHAPE", "MAX_SEQ_LEN", "PARALLEL")}
        board_params = params_from_regs(found)
        if params is not None:
            want = {n: getattr(params, n) for n in ("head_dim", "data_width", "lanes", "block",
                                                    "max_seq_len")}
            have = {n: getattr(board_params, n) for n in want}
            if want != have:
                diff = ", ".join(f"{n} {have[n]} (not {want[n]})" for n in want
                                 if want[n] != have[n])
                raise BoardMismatch(f"the board carries a build for other parameters: {diff}")
        self.params = params or board_params

    # -- frames ------------------------------------------------------------------------

    def command(self, code, payload=b""):
        """Send one command; its OK reply's payload. Resends as the class says;
        :class:`LinkError` after ``retries`` tries, :class:`EngineError` when the
        engine's STATUS is set after it."""
        seq = self._seq
        frame = encode_frame(SYNC_COMMAND, code, seq, payload)
        problem = "no reply"
        for attempt in range(self.retries):
            self.stats.frames += 1
            self.stats.resends += attempt > 0
            self.transport.write(frame)
            reply = self._reply(seq)
            if reply is None:
                problem = "no intact reply"
                self.stats.no_reply += 1
                self._drain()
                continue
            status, data = reply
            if status in _RESEND:
                problem = f"the board answered {Status(status).name}"
                self.stats.refused += 1
                self._drain()
                continue
            self._seq = (seq + 1) & 0xFF
            if status == Status.OK:
                return data
            if status == Status.ENGINE_ERROR:
                raise EngineError(int.from_bytes(data[-4:], "little"))
            raise LinkError(f"the board answered {Status(status).name} to "
                            f"{Command(code).name}")
        raise LinkError(f"{Command(code).name} failed {self.retries} times (last: {problem})")

    def _reply(self, seq):
        """The ``(status, payload)`` of the next intact reply with sequence ``seq``, or
        None when the line goes quiet first (or a reply arrives damaged)."""
        while True:
            byte = self.transport.read(1)
            if not byte:
                return None
            if byte[0] != SYNC_REPLY:
                continue
            head = self.transport.read(HEADER_BYTES - 1)
            if len(head) < HEADER_BYTES - 1:
                return None
            length = head[2] | head[3] << 8
            if length > self.max_payload + 4:
                self.stats.bad_reply += 1
                return None
            rest = self.transport.read(length + CRC_BYTES)
            try:
                status, got_seq, data = parse_frame(byte + head + rest, SYNC_REPLY)
            except FrameError:
                self.stats.bad_reply += 1
                return None
            if got_seq == seq:
                return status, data
            # A late reply to an earlier command: skip it.

    def _drain(self):
        """Read until the line is quiet: the rest of a damaged reply, and the board's
        answer to a frame it timed out."""
        while self.transport.read(4096):
            pass
        self.transport.reset_input_buffer()

    # -- the engine's streams ----------------------------------------------------------

    def _beats_per_frame(self, bits):
        return max(1, self.max_payload // beat_bytes(bits))

    def _send(self, code, beats, bits):
        per = self._beats_per_frame(bits)
        for i in range(0, len(beats), per):
            self.command(code, pack_beats(beats[i:i + per], bits))

    def load_kv(self, k, v, pad=None):
        """Send one head's keys and values ``(N, d)`` (integers of ``data_width`` bits)
        and padding bits ``(N,)``."""
        p = self.params
        k, v = _ints(k, p, "k"), _ints(v, p, "v")
        if k.shape != v.shape or k.ndim != 2 or k.shape[1] != p.head_dim:
            raise InputError(f"k and v must both be (N, {p.head_dim}); got {k.shape}, {v.shape}")
        p.check_seq_len(len(k), "N")
        pad = np.zeros(len(k), bool) if pad is None else np.asarray(pad, bool)
        kv_bits, _, _ = link_beat_bits(p)
        lane_bits = kv_bits // 2
        ks, vs = (_words(x.reshape(-1, p.lanes), p.data_width) for x in (k, v))
        flags = np.repeat(pad.astype(int) * FLAG_USER, p.slices)
        flags[-1] |= FLAG_LAST
        beats = [(kw | vw << lane_bits, int(f)) for kw, vw, f in zip(ks, vs, flags)]
        self._send(Command.SEND_KV, beats, kv_bits)

    def attend(self, q, k, v, *, scale, pad=None, causal=False, offset=0, key_limit=0,
               group_rows=0):
        """One head through the board: ``q (Nq, d)`` against ``k, v (N, d)``
        (integers), ``scale`` in the scale port's format
        (:func:`attnhw.golden.scale.scale_to_port`). Returns the output rows
        ``(Nq, d)`` as the engine computes them
        (:func:`attnhw.golden.engine.engine_attention`)."""
        p = self.params
        q = _ints(q, p, "q")
        if q.ndim != 2 or q.shape[1] != p.head_dim or len(q) == 0:
            raise InputError(f"q must be (Nq >= 1, {p.head_dim}); got {q.shape}")
        check_mode(p, key_limit, offset, group_rows)
        for name, value in (("SCALE", scale), ("MODE", int(bool(causal))), ("OFFSET", offset),
                            ("KEY_LIMIT", key_limit), ("GROUP_ROWS", group_rows)):
            self.regs[name] = value
        self.load_kv(k, v, pad)
        _, q_bits, out_bits = link_beat_bits(p)
        words = _words(q.reshape(-1, p.lanes), p.data_width)
        # Queries go in chunks whose rows fit the board's output FIFO, whole blocks
        # of the engine's cores but the final chunk; each chunk's rows are read back
        # before the next goes, so the engine never waits on the link.
        chunk = max(p.block, (self.out_fifo_depth // p.slices) // p.block * p.block)
        rows = []
        for start in range(0, len(q), chunk):
            n = min(chunk, len(q) - start)
            beats = [(int(w), 0) for w in words[start * p.slices:(start + n) * p.slices]]
            if start + n == len(q):
                beats[-1] = (beats[-1][0], FLAG_LAST)
            self._send(Command.SEND_Q, beats, q_bits)
            rows += self._read_out(n * p.slices, out_bits, last=start + n == len(q))
        data = np.array([d for d, _ in rows], dtype=object)
        flags = [f for _, f in rows]
        expect_user = [(i + 1) % p.slices == 0 for i in range(len(rows))]
        if [bool(f & FLAG_USER) for f in flags] != expect_user or not flags[-1] & FLAG_LAST \
                or any(f & FLAG_LAST for f in flags[:-1]):
            raise LinkError("the board's output beats are out of step with its rows "
                            "(tuser/tlast misplaced)")
        return _from_words(data, p.lanes, p.out_width).reshape(len(q), p.head_dim)

    def _read_out(self, count, bits, last):
        """``count`` output beats ``(data, flags)``, polling ``READ_OUT``."""
        got, polls = [], 0
        while len(got) < count:
            want = min(count - len(got), 0xFFFF)
            reply = self.command(Command.READ_OUT, want.to_bytes(2, "little"))
            beats = unpack_beats(reply, bits)
            if len(beats) > want:
                raise LinkError(f"READ_OUT for {want} beats answered {len(beats)}")
            got += beats
            self.stats.empty_polls += not beats
            polls = 0 if beats else polls + 1
            if polls > 1000:
                raise LinkError(f"the board holds no output after 1000 polls "
                                f"({len(got)} of {count} beats)")
        return got

    def golden(self, q, k, v, *, scale, pad=None, causal=False, offset=0, key_limit=0,
               group_rows=0):
        """What :meth:`attend` must return (the golden model, for a check)."""
        return engine_attention(q, k, v, scale, self.params, key_pad=pad, key_limit=key_limit,
                                causal=causal, offset=offset, group_rows=group_rows)


def _ints(x, p, name):
    x = np.asarray(x)
    lo, hi = -(1 << (p.data_width - 1)), (1 << (p.data_width - 1)) - 1
    if not np.issubdtype(x.dtype, np.integer) or x.size and (x.min() < lo or x.max() > hi):
        raise InputError(f"{name} must hold integers in [{lo}, {hi}] (data_width "
                         f"{p.data_width})")
    return x.astype(np.int64)


def _words(lanes, width):
    """Rows of ``lanes`` signed elements as unsigned words, element ``n`` at bit
    ``n * width``."""
    mask = (1 << width) - 1
    return [sum((int(e) & mask) << (width * n) for n, e in enumerate(row)) for row in lanes]


def _from_words(words, lanes, width):
    """Inverse of :func:`_words`: signed elements ``(len(words), lanes)``."""
    out = np.empty((len(words), lanes), dtype=np.int64)
    mask, sign = (1 << width) - 1, 1 << (width - 1)
    for i, w in enumerate(words):
        for n in range(lanes):
            e = int(w) >> (width * n) & mask
            out[i, n] = e - (1 << width) if e & sign else e
    return out


def _open_serial(port, baud, timeout):
    try:
        import serial
    except ImportError:
        raise InputError("the board driver needs pyserial (pip install pyserial)") from None
    try:
        return serial.Serial(port, baud, timeout=timeout)
    except (serial.SerialException, OSError) as e:
        raise InputError(f"cannot open {port}: {e}") from None
