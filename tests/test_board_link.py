"""The host link (docs/link.md): the protocol's golden side, its CRC logic, the frame
receiver under random bytes, and the board's top in Verilator driven by the real
driver (attnhw.board) through the UART pins, with line faults injected."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnhw.board import Board, BoardMismatch
from attnhw.board_check import FAULTS
from attnhw.golden.errors import InputError
from attnhw.golden.link import (SYNC_COMMAND, FrameError, Status, crc16, crc16_byte,
                                encode_frame, pack_beats, parse_frame, unpack_beats)
from attnhw.golden.params import AttnParams
from attnhw.hdl.board_link import LinkParams
from attnhw.hdl.crc16 import crc16_next
from attnhw.hdl.link_receiver import LinkReceiver
from attnhw.link_budget import head_bytes

P = AttnParams(head_dim=8, lanes=4, data_width=6, max_seq_len=16, block=2)
LINK = LinkParams(divisor=4, max_payload=128, out_fifo_depth=16, timeout_bytes=8)


def test_crc_is_ccitt_false():
    """The catalogue's check value of CRC-16/CCITT-FALSE (reveng.sourceforge.io)."""
    assert crc16(b"123456789") == 0x29B1


def test_frame_round_trip_and_damage():
    frame = encode_frame(SYNC_COMMAND, 3, 200, b"\x01\x02\x03")
    assert parse_frame(frame, SYNC_COMMAND) == (3, 200, b"\x01\x02\x03")
    for damaged in (frame[:-1], frame[:4] + b"\x01" + frame[5:],
                    frame[:6] + bytes([frame[6] ^ 4]) + frame[7:]):
        with pytest.raises(FrameError):
            parse_frame(damaged, SYNC_COMMAND)
    beats = [(0x3F_FFFF, 1), (0, 2), (5, 3)]
    assert unpack_beats(pack_beats(beats, 22), 22) == beats


def test_crc_logic_matches_golden():
    """The XOR network of hdl.crc16 against golden's bit loop, 300 random cases."""
    crc, byte = Signal(16), Signal(8)
    out = Signal(16)
    m = Module()
    m.d.comb += out.eq(crc16_next(crc, byte))
    rng = np.random.default_rng(7)
    cases = [(int(rng.integers(1 << 16)), int(rng.integers(256))) for _ in range(300)]
    seen = []

    async def tb(ctx):
        for c, b in cases:
            ctx.set(crc, c)
            ctx.set(byte, b)
            seen.append(ctx.get(out))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert seen == [crc16_byte(c, b) for c, b in cases]


def _receive(chunks, timeout, max_payload=64):
    """Feed byte chunks to a LinkReceiver (then a quiet gap, longer than ``timeout``,
    after each), taking every frame it offers and reading an intact one's payload from
    the buffer; returns ``[(status, code, seq, payload)]``."""
    dut = LinkReceiver(max_payload, timeout)
    frames = []

    async def take(ctx):
        f = dut.frame.payload
        while True:
            await ctx.tick()
            if not ctx.get(dut.frame.valid):
                continue
            status, length = ctx.get(f.status), ctx.get(f.length)
            payload = []
            for a in range(length if status == Status.OK else 0):
                ctx.set(dut.buf_addr, a)
                await ctx.tick()
                payload.append(ctx.get(dut.buf_data))
            frames.append((status, ctx.get(f.code), ctx.get(f.seq), bytes(payload)))
            ctx.set(dut.frame.ready, 1)
            await ctx.tick()
            ctx.set(dut.frame.ready, 0)

    async def feed(ctx):
        for chunk in chunks:
            for b in chunk:
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, b)
                await ctx.tick()
                ctx.set(dut.i.valid, 0)
                await ctx.tick().repeat(3)
            await ctx.tick().repeat(timeout + max_payload + 8)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(take, background=True)
    sim.add_testbench(feed)
    sim.run()
    return frames


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.binary(max_size=40), code=st.integers(0, 255), seq=st.integers(0, 255),
       payload=st.binary(max_size=64))
def test_receiver_resynchronises_after_garbage(garbage, code, seq, payload):
    """Whatever bytes came before, after a quiet gap an intact frame is received
    whole: the last frame offered is it, with status OK and its payload in the buffer;
    nothing before it is offered as OK (unless the garbage held an intact frame)."""
    frame = encode_frame(SYNC_COMMAND, code, seq, payload)
    frames = _receive([garbage, frame], timeout=12)
    assert frames and frames[-1] == (Status.OK, code, seq, payload)
    for status, *_ in frames[:-1]:
        assert status != Status.OK or SYNC_COMMAND in garbage


def test_receiver_refuses_long_and_cut_frames():
    frame = encode_frame(SYNC_COMMAND, 1, 9, bytes(range(10)))
    too_long = encode_frame(SYNC_COMMAND, 1, 9, bytes(65))
    got = _receive([too_long[:5], frame[:8], frame[:-1] + bytes([frame[-1] ^ 1])], timeout=12)
    assert [s for s, *_ in got] == [Status.BAD_LENGTH, Status.TIMEOUT, Status.BAD_CRC]


def test_driver_errors_are_one_line():
    with pytest.raises(InputError, match="cannot open /nonexistent/tty"):
        Board("/nonexistent/tty")
    with pytest.raises(InputError, match="not both"):
        Board("/dev/null", transport=object())


def _run(host, args, budget, engine_period_ps=7_130):
    from attnhw.sim.runner import run_board_host
    return run_board_host(P, LINK, host, {"params": P.as_dict(), **args}, cycle_budget=budget,
                          engine_period_ps=engine_period_ps)


@pytest.mark.parametrize("engine_period_ps", [7_130, 23_470])
def test_board_sdpa_through_the_link_is_golden(engine_period_ps):
    """Heads (random masks, causal modes, key limits) through the driver and the
    simulated UART equal golden's words, with the engine's clock faster and slower
    than the link's (10 ns); registers read back; a driver for other parameters
    refuses the board."""
    # 11 queries: two chunks of the driver (8 rows fill the 16-beat output FIFO), the
    # first ending without tlast.
    res = _run("attnhw.board_check:check_heads", {"seed": 3, "heads": 3, "nq": 11, "nk": 12},
               5_000_000, engine_period_ps)
    assert res["words"] == 3 * 11 * P.head_dim and res["mismatches"] == 0
    assert res["wrong_registers"] == []
    assert "max_seq_len 16 (not 32)" in res["mismatch_refused"]
    assert res["stats"]["resends"] == 0
    # The link budget's byte count (docs/link.md) against the bytes that crossed the
    # simulated line: exact, once the READ_OUT polls that found nothing are added.
    link_bytes = head_bytes(P, 12, 11, LINK)
    for to_board, from_board, empty in res["head_bytes"]:
        assert (to_board, from_board) == (link_bytes[0] + empty * 9, link_bytes[1] + empty * 7)


def test_board_recovers_from_line_faults():
    """Each fault damages the first frame of a command (or its reply) within a head's
    run: every head still equals golden, and each fault cost a resend. (With the
    board's resend-by-sequence-number switched off, the damaged SEND_KV reply makes
    the driver load the keys twice: an engine error; checked by hand, 2026-12-04.)"""
    faults = [[f, c] for f in FAULTS for c in ("SEND_KV", "SEND_Q", "READ_OUT", "WRITE_REG")]
    res = _run("attnhw.board_check:check_faults", {"seed": 4, "faults": faults, "nq": 5,
                                                   "nk": 12}, 40_000_000)
    assert len(res["outcomes"]) == len(faults)
    for o in res["outcomes"]:
        assert o["fired"] and o["mismatches"] == 0 and o["words"] > 0, o
        assert o["resends"] >= 1, o


def test_link_budget_table_in_the_docs_is_current():
    """docs/link.md's table is what `python -m attnhw.tools link-budget` prints for the
    command the page names."""
    import pathlib

    from attnhw.golden.presets import preset_values
    from attnhw.link_budget import TABLE_BEGIN, TABLE_END, prefill_and_step
    page = (pathlib.Path(__file__).parents[1] / "docs" / "link.md").read_text()
    assert "link-budget --preset ecp5-engine --clock-mhz 108" in page
    table = prefill_and_step(AttnParams(**preset_values("ecp5-engine")), (128, 512, 1024),
                             3_000_000, 108.0)
    assert page.split(TABLE_BEGIN)[1].split(TABLE_END)[0].strip() == table


def test_sdpa_board_backend_equals_golden():
    """attnhw.sdpa(backend="board") through the driver and the simulated link gives
    the golden backend's outputs exactly: causal, grouped-query (enable_gqa) and key
    padding."""
    res = _run("attnhw.board_check:check_sdpa", {"seed": 5}, 20_000_000)
    assert res["max_difference"] == {"causal": 0.0, "gqa": 0.0, "padding": 0.0}
    assert res["frames"] > 0


def test_board_refuses_bad_frames_and_keeps_its_state():
    """A partial K/V beat, a READ_REG of the wrong length, an unknown command and a
    damaged CRC are each refused with their status; nothing was loaded (a head after
    them equals golden) and the registers still answer."""
    res = _run("attnhw.board_check:check_refusals", {"seed": 6}, 5_000_000)
    assert res["answers"] == {"kv_partial_beat": "BAD_LENGTH",
                              "read_reg_two_bytes": "BAD_LENGTH",
                              "unknown_command": "UNKNOWN_COMMAND", "bad_crc": "BAD_CRC"}
    assert res["id"] == 0x4154_544E and res["mismatches"] == 0
