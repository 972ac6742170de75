"""Output projection jobs: random integers in the projection's formats, the engine
rows of a layer in tile order (:func:`attnhw.golden.out_proj.tile_bounds`), and the
output beats they must produce (:func:`attnhw.golden.out_proj.project`)."""

import numpy as np

from attnhw.golden.errors import InputError
from attnhw.golden.out_proj import project, tile_bounds

__all__ = ["random_projection", "row_order", "c_beats", "y_beats", "tile_passes",
           "project_passes"]


def random_projection(op, rng):
    """``(W_int, b_int, M, sh)`` drawn over their formats: weights and biases over
    their whole ranges, ``sh`` around the value that maps a typical sum onto the
    output range (so that some outputs saturate and most do not)."""
    wlo, whi = -(1 << (op.weight_width - 1)), 1 << (op.weight_width - 1)
    W_int = rng.integers(wlo, whi, (op.d_out, op.k))
    b_int = rng.integers(-op.product_sum_bound, op.product_sum_bound + 1, op.d_out) \
        // rng.choice([1, 16, 1 << 10], op.d_out)
    M = rng.integers(1 << (op.mult_bits - 1), 1 << op.mult_bits, op.d_out)
    typical = np.sqrt(op.k) * (whi // 2) * (1 << (op.data_width - 2)) + 1
    centre = int(np.log2(typical * (1 << op.mult_bits) / (1 << (op.out_width - 2))))
    sh = np.clip(rng.integers(centre - 3, centre + 4, op.d_out), 0, op.max_shift)
    sh[rng.random(op.d_out) < 0.05] = 0                      # the unshifted corner
    return W_int, b_int, M, sh


def row_order(n, op):
    """``(tile_start, tile_stop, head)`` in the order the rows pass: each tile once
    per head."""
    return [(s, e, h) for s, e in tile_bounds(n, op) for h in range(op.heads)]


def c_beats(c, p, op):
    """The ``c`` port's beats (dicts) for context rows ``c (n, heads, head_dim)``: per
    tile and head, the rows as ``slices`` beats, ``last`` at the end of the pass."""
    beats = []
    for s, e, h in row_order(len(c), op):
        for i in range(s, e):
            for k in range(p.slices):
                beats.append({"o": [int(x) for x in c[i, h, k * p.lanes:(k + 1) * p.lanes]],
                              "row_last": int(k == p.slices - 1),
                              "last": int(k == p.slices - 1 and i == e - 1)})
    return beats


def y_beats(c, W_int, b_int, M, sh, op):
    """The ``y`` beats (dicts) golden gives for rows ``c``: per tile, each row as
    ``d_out / lanes`` groups of ``lanes`` outputs."""
    y = project(c, W_int, b_int, M, sh, op)
    beats = []
    for s, e in tile_bounds(len(c), op):
        for i in range(s, e):
            for g in range(op.groups):
                beats.append({"y": [int(x) for x in y[i, g * op.lanes:(g + 1) * op.lanes]],
                              "row_last": int(g == op.groups - 1),
                              "last": int(g == op.groups - 1 and i == e - 1)})
    return beats


def tile_passes(layer, op):
    """The engine heads (``attnhw.sim.engine_job`` dicts) that carry a layer through the
    projection: ``layer[b][h]`` is head ``h`` of batch element ``b`` with all its
    queries; each tile of queries passes once per head, with its K/V, padding, scale
    and key limit, and the causal offset moved to the tile's first query (query
    ``s + i`` sees keys ``j <= s + i + offset``; clipped to ``max_seq_len``, beyond
    which every key is seen anyway)."""
    passes = []
    for heads in layer:
        if len(heads) != op.heads:
            raise InputError(f"{len(heads)} heads, the projection takes {op.heads}")
        for s, e in tile_bounds(len(heads[0]["q"]), op):
            for h in heads:
                offset = min(h["offset"] + s, len(h["k"])) if h["causal"] else h["offset"]
                passes.append({**h, "q": h["q"][s:e], "offset": int(offset)})
    return passes


def project_passes(rows, passes, integers, op):
    """The ``y`` beats (dicts) for the engine's ``rows`` (``(sum Nq, d)``, in the order
    of ``passes``): each run of ``heads`` passes is one tile."""
    beats, at = [], 0
    for t in range(0, len(passes), op.heads):
        n = len(passes[t]["q"])
        c = np.stack([rows[at + h * n:at + (h + 1) * n] for h in range(op.heads)], axis=1)
        at += op.heads * n
        beats += y_beats(c, *integers, op)             # n <= tile_rows: one tile
    return beats
