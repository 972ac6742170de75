"""The link's command executor: runs a received frame against the engine's ports and
writes the reply."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from attnhw.golden.link import Command, Status, beat_bytes

from .link_receiver import frame_layout
from .link_transmitter import reply_layout
from .registers import ADDR_BITS, BY_NAME

__all__ = ["LinkExecutor", "beat_layout", "STATUS_SUFFIX_BYTES"]

#: An ``ENGINE_ERROR`` reply carries the engine's STATUS after the command's payload.
STATUS_SUFFIX_BYTES = 4


def beat_layout(bits):
    """A stream beat as the link carries it: ``data`` and the flags ``user``, ``last``."""
    return data.StructLayout({"data": bits, "user": 1, "last": 1})


class LinkExecutor(wiring.Component):
    """Executes each frame the receiver offers (:class:`~attnhw.golden.link.Command`),
    then offers its reply and takes the frame once the reply has gone.

    - A refused frame (status not ``OK``) gets that status and no payload; nothing
      else changes.
    - A frame whose ``SEQ`` is that of the previous executed command is not executed
      again: its reply is sent again from the untouched reply buffer (the host resends
      when a reply is lost).
    - ``SEND_KV`` and ``SEND_Q`` push their beats into the engine's streams, waiting
      for ``ready``; ``READ_OUT`` moves the output beats waiting (at most the frame's
      ``MAX_BEATS`` and as many as fit ``max_payload``) into the reply.
    - After a command the engine's STATUS register is read: not 0 turns the reply
      into ``ENGINE_ERROR`` with STATUS after the command's payload.

    Members
    -------
    frame : ``In(stream.Signature(frame_layout()))``
    buf_addr : ``Out(range(max_payload))``, buf_data : ``In(8)``
        The receiver's payload buffer (one cycle read).
    reply : ``Out(stream.Signature(reply_layout()))``
    r_addr, r_data, r_en : ``Out``
        The transmitter's reply buffer (``max_payload + 4`` bytes).
    kv, q : ``Out(stream.Signature(beat_layout(bits)))``
    out : ``In(stream.Signature(beat_layout(bits)))``
    reg_addr, reg_wdata, reg_we, reg_start : ``Out``; reg_done, reg_rdata : ``In``
        One register access at a time (:class:`~attnhw.hdl.clock_crossing.RegisterCrossing`):
        ``reg_start`` pulses with the access steady, ``reg_done`` pulses when it has
        happened, ``reg_rdata`` then holds the value read.
    """

    def __init__(self, kv_bits, q_bits, out_bits, max_payload, out_fifo_depth):
        self.kv_bits, self.q_bits, self.out_bits = kv_bits, q_bits, out_bits
        self.max_payload, self.out_fifo_depth = max_payload, out_fifo_depth
        #: Output beats a reply holds at most.
        self.out_per_reply = max_payload // beat_bytes(out_bits)
        if self.out_per_reply < 1 or max_payload < beat_bytes(kv_bits) or max_payload >= 1 << 16:
            raise ValueError(f"max_payload {max_payload}: a frame must hold a K/V beat "
                             f"({beat_bytes(kv_bits)} bytes) and an output beat, and "
                             f"LEN is 16 bits")
        super().__init__({
            "frame": In(stream.Signature(frame_layout())),
            "buf_addr": Out(range(max_payload)), "buf_data": In(8),
            "reply": Out(stream.Signature(reply_layout())),
            "r_addr": Out(range(max_payload + STATUS_SUFFIX_BYTES)), "r_data": Out(8),
            "r_en": Out(1),
            "kv": Out(stream.Signature(beat_layout(kv_bits))),
            "q": Out(stream.Signature(beat_layout(q_bits))),
            "out": In(stream.Signature(beat_layout(out_bits))),
            "reg_addr": Out(ADDR_BITS), "reg_wdata": Out(32), "reg_we": Out(1),
            "reg_start": Out(1), "reg_done": In(1), "reg_rdata": In(32),
        })

    def elaborate(self, platform):
        m = Module()
        f = self.frame.payload
        kv_n, q_n, out_n = (beat_bytes(b) for b in (self.kv_bits, self.q_bits, self.out_bits))
        acc = Signal(8 * max(kv_n, q_n, 5))   # bytes read, the latest at the top
        acc_w = len(acc)
        pos = Signal(16)                       # next payload byte to read
        got = Signal(range(max(kv_n, q_n, 5) + 1))   # bytes of the current beat or field
        m.d.comb += self.buf_addr.eq(pos)

        # The reply being built, and the previous executed command's (for resends).
        status, length = Signal(8), Signal(16)
        last_seq, last_status, last_length = Signal(8), Signal(8), Signal(16)
        have_last = Signal()
        m.d.comb += [self.reply.payload.seq.eq(f.seq), self.reply.payload.status.eq(status),
                     self.reply.payload.length.eq(length), self.r_addr.eq(length)]

        # EMIT: `emit_left` bytes of `emit` (least significant first) into the reply:
        # a register's value, an output beat, or the STATUS suffix.
        emit_n = max(4, out_n)
        emit, emit_left = Signal(8 * emit_n), Signal(range(emit_n + 1))
        suffix, reading_out = Signal(), Signal()
        max_beats, beats = Signal(16), Signal(16)
        rem = Signal(16)                       # LEN's remainder by the beat size
        status_addr = BY_NAME["STATUS"].addr

        def beat(n):
            """The beat of ``n`` bytes at the top of ``acc``: data, then the flag byte."""
            b = acc[acc_w - 8 * n:]
            return b, b[8 * (n - 1)], b[8 * (n - 1) + 1]

        def refuse(code):
            m.d.sync += [status.eq(code), length.eq(0)]
            m.next = "REPLY"

        then_state = Signal(range(4))          # after reading a fixed field: what to do
        THEN_REG_READ, THEN_REG_WRITE, THEN_READ_OUT = 0, 1, 2

        with m.FSM():
            with m.State("IDLE"):
                m.d.sync += [pos.eq(0), got.eq(0), suffix.eq(0), reading_out.eq(0)]
                with m.If(self.frame.valid):
                    with m.If(f.status != Status.OK):
                        refuse(f.status)
                    with m.Elif(have_last & (f.seq == last_seq)):
                        m.d.sync += [status.eq(last_status), length.eq(last_length)]
                        m.next = "REPLY"
                    with m.Else():
                        m.d.sync += [status.eq(Status.OK), length.eq(0)]
                        with m.Switch(f.code):
                            with m.Case(Command.INFO):
                                with m.If(f.length != 0):
                                    refuse(Status.BAD_LENGTH)
                                with m.Else():
                                    m.d.sync += [emit.eq(Cat(Const(self.max_payload, 16),
                                                             Const(self.out_fifo_depth, 16))),
                                                 emit_left.eq(4)]
                                    m.next = "EMIT"
                            for code, need, then in ((Command.READ_REG, 1, THEN_REG_READ),
                                                     (Command.WRITE_REG, 5, THEN_REG_WRITE),
                                                     (Command.READ_OUT, 2, THEN_READ_OUT)):
                                with m.Case(code):
                                    with m.If(f.length != need):
                                        refuse(Status.BAD_LENGTH)
                                    with m.Else():
                                        m.d.sync += then_state.eq(then)
                                        m.next = "FIELD_ADDR"
                            with m.Case(Command.SEND_KV, Command.SEND_Q):
                                m.d.sync += rem.eq(f.length)
                                m.next = "LENGTH_CHECK"
                            with m.Default():
                                refuse(Status.UNKNOWN_COMMAND)

            # SEND_*: LEN must be whole beats. The remainder by repeated subtraction,
            # a beat a cycle (a 16-bit modulo by a constant in one cycle is a chain of
            # adders: 96 ns on an LFE5U-85F-6, the link clock's critical path).
            with m.State("LENGTH_CHECK"):
                n = Mux(f.code == Command.SEND_KV, kv_n, q_n)
                with m.If(rem >= n):
                    m.d.sync += rem.eq(rem - n)
                with m.Elif(rem != 0):
                    refuse(Status.BAD_LENGTH)
                with m.Elif(f.length == 0):
                    m.next = "STATUS_ADDR"
                with m.Else():
                    m.next = "BEAT_ADDR"

            # A fixed field of the payload: all its bytes into `acc`, a cycle each after
            # its address.
            with m.State("FIELD_ADDR"):
                m.next = "FIELD_TAKE"
            with m.State("FIELD_TAKE"):
                m.d.sync += [acc.eq(Cat(acc[8:], self.buf_data)), pos.eq(pos + 1)]
                with m.If(pos + 1 == f.length):
                    m.next = "FIELD_DONE"
                with m.Else():
                    m.next = "FIELD_ADDR"
            with m.State("FIELD_DONE"):
                with m.Switch(then_state):
                    with m.Case(THEN_REG_READ):
                        m.d.sync += [self.reg_addr.eq(acc[acc_w - 8:]), self.reg_we.eq(0)]
                        m.next = "REG_START"
                    with m.Case(THEN_REG_WRITE):
                        m.d.sync += [self.reg_addr.eq(acc[acc_w - 40:acc_w - 32]),
                                     self.reg_wdata.eq(acc[acc_w - 32:]), self.reg_we.eq(1)]
                        m.next = "REG_START"
                    with m.Default():
                        m.d.sync += [max_beats.eq(acc[acc_w - 16:]), beats.eq(0),
                                     reading_out.eq(1)]
                        m.next = "OUT_CHECK"
            with m.State("REG_START"):
                m.d.comb += self.reg_start.eq(1)
                m.next = "REG_WAIT"
            with m.State("REG_WAIT"):
                with m.If(self.reg_done):
                    with m.If(self.reg_we):
                        m.next = "STATUS_ADDR"
                    with m.Else():
                        m.d.sync += [emit.eq(self.reg_rdata), emit_left.eq(4)]
                        m.next = "EMIT"

            # SEND_KV / SEND_Q: beats of bytes into the engine's stream.
            with m.State("BEAT_ADDR"):
                m.next = "BEAT_TAKE"
            with m.State("BEAT_TAKE"):
                n = Mux(f.code == Command.SEND_KV, kv_n, q_n)
                m.d.sync += [acc.eq(Cat(acc[8:], self.buf_data)), pos.eq(pos + 1),
                             got.eq(got + 1)]
                with m.If(got + 1 == n):
                    m.next = "BEAT_PUSH"
                with m.Else():
                    m.next = "BEAT_ADDR"
            with m.State("BEAT_PUSH"):
                for port, n, code in ((self.kv, kv_n, Command.SEND_KV),
                                      (self.q, q_n, Command.SEND_Q)):
                    word, user, last = beat(n)
                    m.d.comb += [port.payload.data.eq(word), port.payload.user.eq(user),
                                 port.payload.last.eq(last),
                                 port.valid.eq(f.code == code)]
                pushed = Mux(f.code == Command.SEND_KV, self.kv.ready, self.q.ready)
                with m.If(pushed):
                    m.d.sync += got.eq(0)
                    with m.If(pos == f.length):
                        m.next = "STATUS_ADDR"
                    with m.Else():
                        m.next = "BEAT_ADDR"

            # READ_OUT: output beats into the reply, bytes least significant first.
            with m.State("OUT_CHECK"):
                with m.If((beats != max_beats) & (beats != self.out_per_reply)
                          & self.out.valid):
                    m.d.comb += self.out.ready.eq(1)
                    o = self.out.payload
                    m.d.sync += [emit.eq(Cat(o.data, Const(0, 8 * (out_n - 1) - self.out_bits),
                                             o.user, o.last)),
                                 emit_left.eq(out_n), beats.eq(beats + 1)]
                    m.next = "EMIT"
                with m.Else():
                    m.d.sync += reading_out.eq(0)
                    m.next = "STATUS_ADDR"

            with m.State("EMIT"):
                m.d.comb += [self.r_en.eq(1), self.r_data.eq(emit[:8])]
                m.d.sync += [emit.eq(emit >> 8), emit_left.eq(emit_left - 1),
                             length.eq(length + 1)]
                with m.If(emit_left == 1):
                    with m.If(reading_out):
                        m.next = "OUT_CHECK"
                    with m.Elif(suffix):
                        m.next = "DONE"
                    with m.Else():
                        m.next = "STATUS_ADDR"

            # After a command: the engine's STATUS; not 0 becomes the reply's suffix.
            with m.State("STATUS_ADDR"):
                m.d.sync += [self.reg_addr.eq(status_addr), self.reg_we.eq(0)]
                m.next = "STATUS_START"
            with m.State("STATUS_START"):
                m.d.comb += self.reg_start.eq(1)
                m.next = "STATUS_WAIT"
            with m.State("STATUS_WAIT"):
                with m.If(self.reg_done):
                    m.next = "STATUS_READ"
            with m.State("STATUS_READ"):
                with m.If(self.reg_rdata != 0):
                    m.d.sync += [status.eq(Status.ENGINE_ERROR), emit.eq(self.reg_rdata),
                                 emit_left.eq(4), suffix.eq(1)]
                    m.next = "EMIT"
                with m.Else():
                    m.next = "DONE"
            with m.State("DONE"):
                m.d.sync += [last_seq.eq(f.seq), last_status.eq(status),
                             last_length.eq(length), have_last.eq(1)]
                m.next = "REPLY"

            with m.State("REPLY"):
                m.d.comb += self.reply.valid.eq(1)
                with m.If(self.reply.ready):
                    m.d.comb += self.frame.ready.eq(1)
                    m.next = "IDLE"
        return m
