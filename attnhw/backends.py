"""Where :func:`attnhw.sdpa` computes: the golden model, the core's RTL or the engine's
RTL (both on Verilator or Icarus). All three take the same integers and give the same
integers; the RTL backends also check every word against golden as they run.

Each takes integer ``q (..., L, d)``, ``k, v (..., S, d)``, the scale port per head
``port (...)`` and ``masked (..., L, S)`` (True where a query does not see a key), and
returns the integer output ``(..., L, d)``.
"""

import numpy as np

from attnhw.golden.attention import attention
from attnhw.golden.errors import InputError, ToolError

__all__ = ["BACKENDS", "run_backend"]

BACKENDS = ("golden", "rtl", "engine", "board")
#: Backends that run the engine (its masks: key padding and causal only).
ENGINE_BACKENDS = ("engine", "board")


def run_backend(backend, p, qi, ki, vi, port, masked, *, engine_form=None, groups=1,
                simulator="verilator", board=None, log=print):
    """Dispatch to a backend. ``engine_form``: ``(key_pad (..., S), causal_offset or
    None)`` describing ``masked`` in the engine's terms (needed for the engine and the
    board); ``groups``: query heads (axis -3) per key/value head, whose K/V arrive
    copied ``groups`` times (grouped-query attention: the engine loads one copy);
    ``board``: an :class:`attnhw.board.Board` (for ``"board"``)."""
    if backend == "golden":
        return attention(qi, ki, vi, np.asarray(port)[..., None], p, masked)
    if backend == "rtl":
        return _core_rtl(p, qi, ki, vi, port, masked, simulator, log)
    if backend == "engine":
        return _engine_rtl(p, qi, ki, vi, port, *engine_form, simulator, log, groups)
    if backend == "board":
        return _board(board, p, qi, ki, vi, port, *engine_form, log, groups)
    raise InputError(f"backend {backend!r}: choose one of {', '.join(BACKENDS)}")


def _core_rtl(p, qi, ki, vi, port, masked, simulator, log):
    """The core: one job of ``B·L`` queries, each with its head's keys and scale."""
    from attnhw.sim.jobs import make_job
    from attnhw.sim.runner import run_job
    nq, nk, d = qi.shape[-2], ki.shape[-2], p.head_dim
    batch = qi.shape[:-2]
    nb = int(np.prod(batch, dtype=np.int64))
    q = qi.reshape(nb * nq, d)
    k = np.repeat(ki.reshape(nb, 1, nk, d), nq, axis=1).reshape(nb * nq, nk, d)
    v = np.repeat(vi.reshape(nb, 1, nk, d), nq, axis=1).reshape(nb * nq, nk, d)
    m = np.broadcast_to(masked, batch + (nq, nk)).reshape(nb * nq, nk)
    scale = np.repeat(np.broadcast_to(port, batch).reshape(nb), nq)
    log(f"simulating {nb * nq} queries x {nk} keys on the core ({simulator}) ...")
    res = run_job(make_job(p, q, k, v, m, scale), simulator=simulator, log=log)
    if res["mismatches"] or res["missing_rows"]:
        raise ToolError(f"RTL differs from the golden model in {res['mismatches']} words "
                           f"({res['missing_rows']} rows missing); see {res['work_dir']}")
    return res["o"].reshape(batch + (nq, d))


def _engine_heads(p, qi, ki, vi, port, key_pad, offset, groups):
    """The engine's heads: one per leading index, its masks as key padding bits and
    the causal register (``offset``; None: not causal); with ``groups``, one pass per
    key/value head for its group's query heads (``GROUP_ROWS``) where they share a
    scale port and key padding."""
    from attnhw.golden.engine import check_mode
    nq, nk, d = qi.shape[-2], ki.shape[-2], p.head_dim
    batch = qi.shape[:-2]
    check_mode(p, 0, offset or 0)
    pads = np.broadcast_to(key_pad, batch + (nk,)).reshape(-1, nk)
    ports = np.broadcast_to(port, batch).reshape(-1)
    q, k, v = qi.reshape(-1, nq, d), ki.reshape(-1, nk, d), vi.reshape(-1, nk, d)
    G = groups if groups > 1 and nq <= p.max_seq_len else 1
    if G > 1 and not (np.all(ports.reshape(-1, G) == ports.reshape(-1, G)[:, :1])
                      and np.all(pads.reshape(-1, G, nk) == pads.reshape(-1, G, nk)[:, :1])):
        G = 1                               # the group's query heads differ: a copy each
    heads = [dict(q=q[i:i + G].reshape(G * nq, d), k=k[i], v=v[i], pad=pads[i],
                  scale=int(ports[i]), causal=offset is not None, offset=int(offset or 0),
                  key_limit=0, group_rows=nq if G > 1 else 0)
             for i in range(0, len(q), G)]
    return heads


def _engine_rtl(p, qi, ki, vi, port, key_pad, offset, simulator, log, groups=1):
    """The engine's RTL on :func:`_engine_heads`' heads."""
    from attnhw.sim.runner import run_engine_job
    nq, nk, d = qi.shape[-2], ki.shape[-2], p.head_dim
    batch = qi.shape[:-2]
    heads = _engine_heads(p, qi, ki, vi, port, key_pad, offset, groups)
    log(f"simulating the engine: {len(heads)} heads x {nq} queries x {nk} keys, "
        f"block {p.block}, on {simulator} ...")
    res = run_engine_job(p, heads, simulator=simulator, log=log)
    if res["mismatches"] or res["rows_out"] != res["rows_expected"]:
        raise ToolError(f"the engine differs from the golden model in {res['mismatches']} "
                           f"words; see {res['work_dir']}")
    log(f"engine: {res['cycles']:,} cycles")
    return res["o"].reshape(batch + (nq, d))


def _board(board, p, qi, ki, vi, port, key_pad, offset, log, groups=1):
    """A board (:class:`attnhw.board.Board`) on :func:`_engine_heads`' heads, one head
    after another through its link."""
    if board is None:
        raise InputError("backend 'board': give board=attnhw.board.Board(port=...)")
    if board.params.as_dict() != p.as_dict():
        raise InputError("backend 'board': the tensors were prepared for other parameters "
                         "than the board's (leave params out, or pass board.params)")
    nq, d = qi.shape[-2], p.head_dim
    heads = _engine_heads(p, qi, ki, vi, port, key_pad, offset, groups)
    log(f"the board: {len(heads)} heads x {nq} queries x {ki.shape[-2]} keys ...")
    rows = [board.attend(h["q"], h["k"], h["v"], scale=h["scale"], pad=h["pad"],
                         causal=h["causal"], offset=h["offset"], group_rows=h["group_rows"])
            for h in heads]
    return np.concatenate(rows).reshape(qi.shape[:-2] + (nq, d))
