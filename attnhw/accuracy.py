"""Accuracy of the hardware arithmetic (golden model = RTL) against float64."""

import numpy as np

from golden.attention import attention
from golden.quantize import random_problem
from golden.reference import attention_float, error_stats

__all__ = ["measure_accuracy", "format_accuracy"]


def measure_accuracy(p, *, elements=100_000, seq_len=64, temperatures=(0.5, 1.0, 4.0, 16.0),
                     mask_prob=0.0, seed=1):
    """Error stats per softmax temperature over at least ``elements`` outputs each,
    on quantised Gaussian data (the scale is ``temperature / sqrt(d)``)."""
    p.check_seq_len(seq_len, "--seq-len")
    rng = np.random.default_rng(seed)
    queries = 256
    reps = max(1, -(-elements // (queries * p.head_dim)))
    rows = []
    for t in temperatures:
        o_all, r_all = [], []
        for _ in range(reps):
            pr = random_problem(p, queries, seq_len, rng, temperature=t, mask_prob=mask_prob)
            args = (pr["q"], pr["k"], pr["v"], pr["scale"], p, pr["masked"])
            o_all.append(attention(*args))
            r_all.append(attention_float(*args))
        rows.append(dict(temperature=t, seq_len=seq_len,
                         **error_stats(np.concatenate(o_all), np.concatenate(r_all), p)))
    return rows


def format_accuracy(rows):
    lines = ["| temperature | seq_len | elements | correctly rounded | max error (LSB) "
             "| mean error (LSB) | max off from rounded |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['temperature']:g} | {r['seq_len']} | {r['elements']} | "
                     f"{r['correctly_rounded']:.3%} | {r['max_abs_err_lsb']:.3f} | "
                     f"{r['mean_abs_err_lsb']:.3f} | {r['max_off_from_rounded']} |")
    return "\n".join(lines)
