"""How the core splits its key/value beat stream into queries (the framing rule).

A key is ``slices = head_dim // lanes`` beats. A query's keys end at the final beat
of a key that carries ``last``, or, when ``last`` never comes, after ``max_seq_len``
keys (the accumulators are sized for that many). Hardware faults are defined, not
undefined:

- ``last`` on any other beat of a key is ignored; the core raises ``err_last_misplaced``.
- a query closed at ``max_seq_len`` keys without ``last`` raises ``err_too_many_keys``;
  the key beats after it belong to the next query.

Both error outputs are sticky until ``clear_errors`` (or reset).
"""

import numpy as np

__all__ = ["split_queries"]


def split_queries(p, last):
    """``last``: per-beat flags of the kv stream, in order. Returns ``(bounds, errors)``:
    ``bounds`` a list of ``(first_beat, end_beat)`` for each complete query, ``errors``
    a dict with the counts ``last_misplaced`` and ``too_many_keys``."""
    last = np.asarray(last, dtype=bool)
    n_keys_total = len(last) // p.slices
    key_last = last[: n_keys_total * p.slices].reshape(n_keys_total, p.slices)[:, -1]
    misplaced = int(last.sum() - key_last.sum())
    bounds, start, count, forced = [], 0, 0, 0
    for j in np.arange(n_keys_total):
        count += 1
        if key_last[j] or count == p.max_seq_len:
            forced += int(not key_last[j])
            bounds.append((start * p.slices, (j + 1) * p.slices))
            start, count = j + 1, 0
    return bounds, {"last_misplaced": misplaced, "too_many_keys": forced}
