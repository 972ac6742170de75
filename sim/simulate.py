"""Random-data RTL runs with a summary: mismatches, accuracy, cycles, utilisation."""

import numpy as np

from attnhw.golden.errors import InputError
from attnhw.golden.reference import attention_float, error_stats
from attnhw.sim.runner import run_job
from attnhw.sim.scenarios import head_job

__all__ = ["simulate_random", "format_summary"]


def simulate_random(p, seq_len, queries, *, simulator="verilator", waves=False, seed=1,
                    gap=0.0, stall=0.0, temperature=1.0, mask_prob=0.0, log=print):
    """One head of quantised Gaussian data: ``queries`` queries against the same
    ``seq_len`` keys, streamed through the RTL. Returns the summary dict."""
    p.check_seq_len(seq_len, "--seq-len")
    if queries < 1:
        raise InputError(f"--queries {queries} must be at least 1")
    job, pr = head_job(p, np.random.default_rng(seed), queries, seq_len, gap=gap, stall=stall,
                       seed=seed, temperature=temperature, mask_prob=mask_prob)
    res = run_job(job, simulator=simulator, waves=waves, log=log)
    ref = attention_float(pr["q"], pr["k"], pr["v"], pr["scale"], p, pr["masked"])
    if len(res["o"]) == queries:
        res["accuracy"] = error_stats(res["o"], ref, p)
    floor = queries * seq_len * p.slices
    res.update(seq_len=seq_len, head_dim=p.head_dim, lanes=p.lanes, floor_cycles=floor,
               utilisation=floor / res["cycles"] if res["cycles"] else 0.0,
               gap=gap, stall=stall, simulator=simulator)
    return res


def format_summary(res):
    lines = [
        f"queries {res['queries']} x keys {res['seq_len']}, head_dim {res['head_dim']}, "
        f"lanes {res['lanes']} on {res['simulator']} (input gaps {res['gap']:.0%}, "
        f"output stalls {res['stall']:.0%})",
        f"bit-exact vs golden: {res['mismatches']} mismatches in {res['words_compared']} "
        f"words" + (f", {res['missing_rows']} rows missing" if res["missing_rows"] else ""),
    ]
    acc = res.get("accuracy")
    if acc:
        lines.append(f"error vs float64: max {acc['max_abs_err_lsb']:.3f} LSB, mean "
                     f"{acc['mean_abs_err_lsb']:.3f} LSB, {acc['correctly_rounded']:.2%} "
                     f"correctly rounded, max {acc['max_off_from_rounded']} LSB off")
    lines.append(f"cycles {res['cycles']} (first input to last output), floor N*d/lanes "
                 f"= {res['floor_cycles']}, utilisation {res['utilisation']:.1%}")
    if res.get("latencies"):
        lines.append(f"latency from a query's last key beat to its last output beat: "
                     f"{max(res['latencies'])} cycles (max over queries)")
    if res.get("waves"):
        lines.append(f"waves: {res['waves']}")
    return "\n".join(lines)
