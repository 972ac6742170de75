"""Host programs that check a board (or its simulation, :mod:`attnhw.sim.tb_board`)
through the real driver: heads against the golden model, registers read back, and
line faults injected between the driver and the port."""

import numpy as np

from attnhw.golden.errors import InputError
from attnhw.golden.link import SYNC_COMMAND, Command, FrameError
from attnhw.golden.params import AttnParams
from attnhw.hdl.board_link import link_beat_bits
from attnhw.hdl.registers import BY_NAME, field_widths
from attnhw.sim.engine_job import random_head

from .board import Board, BoardMismatch

__all__ = ["FAULTS", "FaultyLine", "CountingLine", "check_heads", "check_faults", "check_sdpa",
           "check_refusals"]

#: Line faults: each damages one frame the host writes (``"reply_bit"``: one the board
#: writes back).
FAULTS = ("bit_flip", "drop_byte", "duplicate_byte", "cut_short", "reply_bit")


class FaultyLine:
    """A transport that damages the next command frame (or reply) when armed with
    :meth:`arm`; otherwise passes bytes through. ``fired`` lists the faults done."""

    def __init__(self, transport, seed):
        self.transport = transport
        self.rng = np.random.default_rng(seed)
        self.armed = self.command = None
        self.reply_due = False
        self.fired = []

    def arm(self, fault, command):
        """Damage the next frame of ``command`` (:class:`Command`), or its reply."""
        if fault not in FAULTS:
            raise InputError(f"unknown fault {fault!r}")
        self.armed, self.command = fault, Command[command]

    def write(self, data):
        data = bytearray(data)
        fault = self.armed if data[:2] == bytes([SYNC_COMMAND, self.command or 0]) else None
        if fault == "reply_bit":
            self.armed, self.reply_due = None, True
        elif fault is not None:
            # A byte inside the checked part (CODE to the CRC's first byte), so that
            # the frame is damaged, not followed by a stray byte.
            i = int(self.rng.integers(1, len(data) - 1))
            if fault == "bit_flip":
                data[i] ^= 1 << int(self.rng.integers(8))
            elif fault == "drop_byte":
                del data[i]
            elif fault == "duplicate_byte":
                data.insert(i, data[i])
            else:
                data = data[:i]
            self.armed = None
            self.fired.append(fault)
        self.transport.write(bytes(data))

    def read(self, n):
        data = bytearray(self.transport.read(n))
        if self.reply_due and len(data) > 1:
            data[int(self.rng.integers(1, len(data)))] ^= 1 << int(self.rng.integers(8))
            self.reply_due = False
            self.fired.append("reply_bit")
        return bytes(data)

    def reset_input_buffer(self):
        self.transport.reset_input_buffer()


class CountingLine:
    """A transport that counts the bytes each way."""

    def __init__(self, transport):
        self.transport = transport
        self.written = self.read_bytes = 0

    def write(self, data):
        self.written += len(data)
        self.transport.write(data)

    def read(self, n):
        data = self.transport.read(n)
        self.read_bytes += len(data)
        return data

    def reset_input_buffer(self):
        self.transport.reset_input_buffer()


def _heads(p, seed, count, nq, nk):
    rng = np.random.default_rng(seed)
    return [random_head(p, rng, nq, nk, mask_prob=0.2) for _ in range(count)]


def _run_head(board, head):
    settings = {n: head[n] for n in ("scale", "causal", "offset", "key_limit", "group_rows")}
    got = board.attend(head["q"], head["k"], head["v"], pad=head["pad"], **settings)
    want = board.golden(head["q"], head["k"], head["v"], pad=head["pad"], **settings)
    return int(np.sum(got != want)), int(want.size)


def _check_registers(board, rng):
    """Each read-write register takes a random in-range value and reads it back;
    STATUS reads 0. Returns the names that did not read back."""
    p, wrong = board.params, []
    widths = field_widths(p)
    for name in ("SCALE", "KEY_LIMIT", "GROUP_ROWS", "MODE", "OFFSET"):
        bits = widths.get(name, BY_NAME[name].fields[0].width)
        value = int(rng.integers(0, 1 << (bits - 1 if name == "OFFSET" else bits)))
        board.regs[name] = value
        if board.regs[name] != value:
            wrong.append(name)
    if board.regs["STATUS"] != 0:
        wrong.append("STATUS")
    return wrong


def check_heads(transport, args):
    """Random heads through the driver, each compared word by word with golden;
    registers read back; a driver given other parameters refuses the board."""
    p = AttnParams(**args["params"])
    line = CountingLine(transport)
    board = Board(transport=line, params=p, retries=4)
    rng = np.random.default_rng(args["seed"])
    wrong_regs = _check_registers(board, rng)
    mismatches = words = 0
    head_bytes = []           # per head: (to board, from board, empty READ_OUT polls)
    for head in _heads(p, args["seed"], args["heads"], args["nq"], args["nk"]):
        before = (line.written, line.read_bytes, board.stats.empty_polls)
        bad, n = _run_head(board, head)
        mismatches, words = mismatches + bad, words + n
        head_bytes.append([line.written - before[0], line.read_bytes - before[1],
                           board.stats.empty_polls - before[2]])
    other = AttnParams(**{**args["params"], "max_seq_len": 2 * p.max_seq_len})
    try:
        Board(transport=transport, params=other, retries=4)
        refused = None
    except BoardMismatch as e:
        refused = str(e)
    return {"mismatches": mismatches, "words": words, "wrong_registers": wrong_regs,
            "head_bytes": head_bytes,
            "mismatch_refused": refused, "stats": vars(board.stats)}


def check_faults(transport, args):
    """Each ``(fault, command)`` of ``args["faults"]`` damages the first frame of that
    command in a head's run (or its reply); the head must still come out exactly as
    golden's. A damaged reply to ``SEND_KV`` or ``READ_OUT`` makes the driver resend a
    command that must not run twice: the board answers it from its stored reply."""
    p = AttnParams(**args["params"])
    line = FaultyLine(transport, args["seed"])
    board = Board(transport=line, params=p, retries=8)
    heads = _heads(p, args["seed"], len(args["faults"]), args["nq"], args["nk"])
    outcomes = []
    for (fault, command), head in zip(args["faults"], heads):
        line.arm(fault, command)
        before = board.stats.resends
        bad, n = _run_head(board, head)
        outcomes.append({"fault": fault, "command": command, "fired": line.fired[-1:] == [fault],
                         "mismatches": bad, "words": n,
                         "resends": board.stats.resends - before})
    return {"outcomes": outcomes, "stats": vars(board.stats)}


def check_sdpa(transport, args):
    """``attnhw.sdpa(..., backend="board")`` through the driver against the golden
    backend on the same float tensors: a causal batch, grouped-query heads
    (``enable_gqa``) and key padding; returns the largest difference per case."""
    import attnhw
    board = Board(transport=CountingLine(transport), params=AttnParams(**args["params"]),
                  retries=4)
    d = board.params.head_dim
    rng = np.random.default_rng(args["seed"])
    q, k, v = (rng.standard_normal(s) for s in ((2, 4, 5, d), (2, 2, 9, d), (2, 2, 9, d)))
    pad = np.ones((2, 1, 1, 9), bool)
    pad[1, ..., 7:] = False                       # the second batch's last keys padded
    cases = {"causal": dict(is_causal=True, query=q[:, :2], key=k, value=v),
             "gqa": dict(enable_gqa=True, query=q, key=k, value=v),
             "padding": dict(attn_mask=pad, query=q[:, :2], key=k, value=v)}
    worst = {}
    for name, kw in cases.items():
        got = attnhw.sdpa(backend="board", board=board, **kw)
        want = attnhw.sdpa(backend="golden", params=board.params, **kw)
        worst[name] = float(np.max(np.abs(got - want)))
    return {"max_difference": worst, "frames": board.stats.frames}


def check_refusals(transport, args):
    """Frames the board must refuse, sent raw, each answered with its status and no
    state changed: a LEN that is not whole K/V beats, a READ_REG with two bytes, an
    unknown command, a damaged CRC. Then the driver still works (ID reads back).
    Returns ``{case: status name}`` and the ID."""
    from attnhw.golden.link import SYNC_REPLY, Status, beat_bytes, encode_frame, parse_frame
    p = AttnParams(**args["params"])
    kv_bytes = beat_bytes(link_beat_bits(p)[0])
    frames = {"kv_partial_beat": encode_frame(SYNC_COMMAND, Command.SEND_KV, 1,
                                              bytes(kv_bytes + 1)),
              "read_reg_two_bytes": encode_frame(SYNC_COMMAND, Command.READ_REG, 2, b"\x08\x00"),
              "unknown_command": encode_frame(SYNC_COMMAND, 0x7F, 3),
              "bad_crc": encode_frame(SYNC_COMMAND, Command.INFO, 4)[:-1] + b"\x00"}
    answers = {}
    for name, frame in frames.items():
        transport.write(frame)
        reply = transport.read(7)
        try:
            status, seq, _ = parse_frame(reply, SYNC_REPLY)
            answers[name] = Status(status).name
        except (ValueError, FrameError):
            answers[name] = f"no intact reply: {reply.hex()}"
    board = Board(transport=transport, params=p, retries=4)
    # No K/V was loaded by the refused SEND_KV: a head's worth still runs exactly.
    head = _heads(p, args["seed"], 1, 3, 5)[0]
    bad, _ = _run_head(board, head)
    return {"answers": answers, "id": board.regs["ID"], "mismatches": bad}
