"""The engine's masks and multi-head attention (``attnhw.hdl.engine``), on top of the core's
arithmetic (``attnhw.golden.attention``): the engine changes which keys a query sees, never
how a score, weight or output is computed, so query blocking is exact by design.

Per head, query ``i`` (counted from 0 within the head) does not see key ``j`` when

- ``key_pad[j]``: the per-key padding bit sent with the key (``tuser``), or
- ``key_limit > 0`` and ``j >= key_limit``: a valid length (0: no limit), or
- ``causal`` and ``j > i + offset``: causal attention (``offset = Nk - Nq`` aligns
  the last query with the last key; ``offset = 0`` is square self-attention).

A query that sees no key outputs a row of zeros (``attnhw.golden.attention.normalize``).

Grouped-query attention (GQA/MQA): the queries of the ``G`` query heads that share one
key/value head pass as one engine head over that K/V, query head after query head,
``group_rows`` queries each. The index ``i`` above then counts within each query head:
the ``r``-th query of the pass has ``i = r mod group_rows`` (``group_rows`` 0: no
groups, ``i = r``), so causal masks and offsets apply per query head, not across the
group. Scores, weights and outputs are computed as for any query.
"""

import numpy as np

from .attention import attention
from .errors import InputError

__all__ = ["check_mode", "engine_mask", "engine_attention", "key_limits", "query_index"]


def check_mode(p, key_limit=0, offset=0, group_rows=0):
    """``ValueError`` naming the register whose value the engine cannot hold."""
    if not 0 <= int(group_rows) <= p.max_seq_len:
        raise InputError(f"group_rows={group_rows} is out of range [0, max_seq_len="
                         f"{p.max_seq_len}] (0: no query-head groups)")
    if not 0 <= int(key_limit) <= p.max_seq_len:
        raise InputError(f"key_limit={key_limit} is out of range [0, max_seq_len={p.max_seq_len}]"
                         " (0: no limit)")
    if not -p.max_seq_len <= int(offset) <= p.max_seq_len:
        raise InputError(f"offset={offset} is out of range [-{p.max_seq_len}, {p.max_seq_len}]"
                         " (max_seq_len)")


def query_index(nq, group_rows=0):
    """The index ``i`` of each of a pass's ``nq`` queries within its query head."""
    r = np.arange(nq)
    return r % group_rows if group_rows else r


def key_limits(nq, p, key_limit=0, causal=False, offset=0, group_rows=0):
    """Per query ``i``: the first key index it may not see (``masked = j >= limit``,
    before the padding bit), in ``[0, max_seq_len]``. This is the form the hardware
    computes once per query; :func:`engine_mask` states the rule directly."""
    check_mode(p, key_limit, offset, group_rows)
    limit = np.full(nq, key_limit if key_limit else p.max_seq_len, dtype=np.int64)
    if causal:
        limit = np.minimum(limit, np.clip(query_index(nq, group_rows) + offset + 1, 0,
                                          p.max_seq_len))
    return limit


def engine_mask(nq, nk, p, key_pad=None, key_limit=0, causal=False, offset=0, group_rows=0):
    """Boolean ``(..., nq, nk)``, True where query ``i`` does not see key ``j``;
    ``key_pad (..., nk)`` gives the leading (batch, head) axes."""
    check_mode(p, key_limit, offset, group_rows)
    i, j = query_index(nq, group_rows)[:, None], np.arange(nk)[None, :]
    masked = np.zeros((nq, nk), dtype=bool)
    if key_limit:
        masked = masked | (j >= key_limit)
    if causal:
        masked = masked | (j > i + offset)
    if key_pad is not None:
        masked = masked | np.asarray(key_pad, dtype=bool)[..., None, :]
    return masked


def engine_attention(q, k, v, scale, p, *, key_pad=None, key_limit=0, causal=False, offset=0,
                     group_rows=0):
    """The engine's output ``(..., Nq, d)`` for integer ``q (..., Nq, d)`` and
    ``k, v (..., Nk, d)``; the leading axes are (batch, heads) or any others. With
    ``group_rows``, ``Nq`` is the queries of a group's query heads in turn."""
    q, k = np.asarray(q), np.asarray(k)
    masked = engine_mask(q.shape[-2], k.shape[-2], p, key_pad, key_limit, causal, offset,
                         group_rows)
    return attention(q, k, v, scale, p, masked)
