"""What a head costs on the host link (docs/link.md): the bytes the driver
(:mod:`attnhw.board`) sends and receives for one head, the seconds at a baud rate, and
the engine's own compute time beside them."""

from attnhw.golden.link import CRC_BYTES, HEADER_BYTES, beat_bytes

__all__ = ["head_bytes", "query_chunk", "budget_rows", "budget_table", "prefill_and_step",
           "TABLE_BEGIN",
           "TABLE_END"]

TABLE_BEGIN = "<!-- link budget: python -m attnhw.tools link-budget (tests/test_board_link.py checks) -->"
TABLE_END = "<!-- end of link budget -->"

_FRAME = HEADER_BYTES + CRC_BYTES
#: Registers the driver writes before each head (SCALE, MODE, OFFSET, KEY_LIMIT,
#: GROUP_ROWS); each a 5-byte payload.
_SETTINGS = 5


def _frames(beats, size, max_payload):
    """Frames of ``beats`` beats of ``size`` bytes, as many per frame as fit."""
    per = max(1, max_payload // size)
    return -(-beats // per)


def query_chunk(p, out_fifo_depth):
    """Queries the driver sends before reading their rows back: whole blocks of the
    engine's cores whose output beats fit the board's output FIFO."""
    return max(p.block, (out_fifo_depth // p.slices) // p.block * p.block)


def head_bytes(p, n_keys, n_queries, link):
    """``(to_board, from_board)`` bytes of one head as the driver runs it: the settings,
    the K/V, the queries in chunks (:func:`query_chunk`) and a ``READ_OUT`` per chunk
    and full reply. A lower bound for ``from_board``: a ``READ_OUT`` that finds no row
    ready yet costs another 7 + 9 bytes."""
    from attnhw.hdl.board_link import link_beat_bits
    kv, q, out = (beat_bytes(b) for b in link_beat_bits(p))
    to_board = _SETTINGS * (_FRAME + 5)
    from_board = _SETTINGS * _FRAME
    frames = _frames(n_keys * p.slices, kv, link.max_payload)
    to_board += n_keys * p.slices * kv + frames * _FRAME
    from_board += frames * _FRAME
    chunk = query_chunk(p, link.out_fifo_depth)
    out_per_reply = link.max_payload // out
    for start in range(0, n_queries, chunk):
        beats = min(chunk, n_queries - start) * p.slices
        frames = _frames(beats, q, link.max_payload)
        reads = -(-beats // out_per_reply)
        to_board += beats * q + frames * _FRAME + reads * (_FRAME + 2)
        from_board += frames * _FRAME + beats * out + reads * _FRAME
    return to_board, from_board


def budget_rows(p, link, cases, baud, clock_mhz):
    """Per ``(n_keys, n_queries)``: bytes each way, link seconds (10 bits a byte, one
    direction at a time as the protocol is request-reply) and the engine's floor,
    ``ceil(Nq / block) * N * d / lanes`` cycles at ``clock_mhz``."""
    rows = []
    for n_keys, n_queries in cases:
        to_board, from_board = head_bytes(p, n_keys, n_queries, link)
        link_s = (to_board + from_board) * 10 / baud
        engine_s = -(-n_queries // p.block) * n_keys * p.slices / (clock_mhz * 1e6)
        rows.append({"n_keys": n_keys, "n_queries": n_queries, "to_board": to_board,
                     "from_board": from_board, "link_ms": 1e3 * link_s,
                     "engine_ms": 1e3 * engine_s, "ratio": link_s / engine_s})
    return rows


def budget_table(rows):
    """The rows of :func:`budget_rows` as a markdown table."""
    lines = ["| keys N | queries | bytes to board | bytes from board | link ms | engine ms "
             "| link / engine |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['n_keys']} | {r['n_queries']} | {r['to_board']:,} | "
                     f"{r['from_board']:,} | {r['link_ms']:.2f} | {r['engine_ms']:.4f} | "
                     f"{r['ratio']:,.0f} |")
    return "\n".join(lines)


def prefill_and_step(p, keys, baud, clock_mhz):
    """The docs' table: for each ``N`` of ``keys``, a prefill (``N`` queries) and a
    decode step (one query) that reloads the K/V, over the default link."""
    from attnhw.hdl.board_link import LinkParams
    cases = [(n, q) for n in keys for q in (n, 1)]
    return budget_table(budget_rows(p, LinkParams(), cases, baud, clock_mhz))
