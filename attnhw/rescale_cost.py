"""What the accumulator's small-step rescale costs: the shift passes a row needs.

The accumulator (``attnhw.hdl.accumulator``) shifts by at most ``SHIFT_STEP`` bits per
pass; a key whose running max rose by ``delta`` more runs ``ceil(delta / SHIFT_STEP) - 1``
extra passes of ``slices`` cycles. From the golden model's ``delta`` on random rows:

    python -m attnhw.rescale_cost [--keys 1024] [--rows 64]
"""

import argparse

import numpy as np

from attnhw.golden.attention import attention
from attnhw.golden.params import AttnParams
from attnhw.golden.quantize import random_problem
from attnhw.hdl.accumulator import Accumulator

__all__ = ["extra_passes", "main"]


def extra_passes(delta, step=Accumulator.SHIFT_STEP):
    """Shift passes per row (the last axis is the keys) for rescale shifts ``delta``."""
    delta = np.asarray(delta)
    return np.maximum(0, -(-delta // step) - 1).sum(axis=-1)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m attnhw.rescale_cost")
    ap.add_argument("--keys", type=int, default=1024)
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    p = AttnParams(max_seq_len=args.keys)
    rng = np.random.default_rng(args.seed)
    print(f"d {p.head_dim}, lanes {p.lanes}, N {args.keys}, {args.rows} rows per temperature, "
          f"SHIFT_STEP {Accumulator.SHIFT_STEP}")
    print("| temperature | largest delta | extra passes per row (mean / max) | "
          "cycles lost per row | of the row's cycles |")
    print("|---|---|---|---|---|")
    for temp in (0.5, 1.0, 2.0, 4.0, 8.0):
        pr = random_problem(p, args.rows, args.keys, rng, temperature=temp)
        _, st = attention(pr["q"], pr["k"], pr["v"], pr["scale"], p, pr["masked"], stages=True)
        passes = extra_passes(st["delta"])
        lost = passes.mean() * p.slices
        print(f"| {temp} | {st['delta'].max()} | {passes.mean():.2f} / {passes.max()} | "
              f"{lost:.1f} | {lost / (args.keys * p.slices):.2%} |")


if __name__ == "__main__":
    main()
