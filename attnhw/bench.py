"""``attnhw bench``: cycles of the engine's RTL against the multiplier floor.

For each engine configuration (head_dim, lanes, block) and sequence length N, one
head with ``Nq = Nk = N`` (or ``--heads`` of them) runs through the AXI4-Stream top
on Verilator with no input gaps and no backpressure. ``cycles`` runs from the first
input beat taken to the last output beat, so it includes loading K/V (a head's
queries start once its K/V are in memory; with several heads the next head's K/V
load while the current one computes). ``floor = heads * Nq * Nk * d / (lanes *
block)``: every multiplier does one MAC per cycle. ``utilisation = floor / cycles``.
Every output word is also compared with the golden model.
"""

import json
import pathlib
import time

import numpy as np

from attnhw.golden.errors import ToolError
from attnhw.golden.params import AttnParams
from attnhw.sim.engine_job import random_head
from attnhw.sim.runner import run_engine_job
from attnhw import __version__

from .outputs import atomic_write

__all__ = ["DEFAULT_CONFIGS", "DEFAULT_SEQ_LENS", "TARGETS", "config_params", "run_bench",
           "write_report", "README_BEGIN", "README_END"]

README_BEGIN = "<!-- benchmark table: written by make bench (python -m attnhw.tools bench) -->"
README_END = "<!-- end of benchmark table -->"

#: (head_dim, lanes, block): the default engine (64, 16, 4) and two others.
DEFAULT_CONFIGS = ((64, 16, 4), (64, 16, 2), (32, 8, 4))
DEFAULT_SEQ_LENS = (16, 32, 64, 128, 256, 512, 1024)
#: (minimum Nk, minimum utilisation), from the issue.
TARGETS = ((512, 0.95), (128, 0.90))


def target_for(nk):
    """The utilisation target at ``nk`` keys, or ``None`` below every threshold."""
    return next((u for n, u in TARGETS if nk >= n), None)


def config_params(base, d, lanes, block, seq_lens):
    """The parameters of one configuration: ``base`` (other fields) with ``max_seq_len``
    raised to the longest ``N``; :class:`ParamError` names a bad field."""
    base = base or {}
    return AttnParams(**{**base, "head_dim": d, "lanes": lanes, "block": block,
                         "max_seq_len": max(max(seq_lens), base.get("max_seq_len", 0))})


def run_bench(configs=DEFAULT_CONFIGS, seq_lens=DEFAULT_SEQ_LENS, *, heads=1, base=None,
              simulator="verilator", seed=1, log=print):
    """One record per (config, N): cycles, floor, utilisation, simulator speed."""
    records = []
    for d, lanes, block in configs:
        p = config_params(base, d, lanes, block, seq_lens)
        for n in seq_lens:
            rng = np.random.default_rng([seed, d, lanes, block, n])
            hs = [random_head(p, rng, n, n, modes=False) for _ in range(heads)]
            log(f"d={d} lanes={lanes} block={block} N={n} heads={heads}: "
                f"~{heads * n * n * p.slices // block:,} cycles ...")
            start = time.time()
            res = run_engine_job(p, hs, simulator=simulator, seed=seed, log=log)
            if res["mismatches"] or res["rows_out"] != res["rows_expected"]:
                what = (f"{res['mismatches']} words differ from the golden model"
                        if res["mismatches"] else f"{res['rows_out']} of "
                        f"{res['rows_expected']} rows came out in {res['sim_cycles']:,} cycles")
                raise ToolError(f"bench run d={d} lanes={lanes} block={block} N={n}: "
                                   f"{what}; see {res['work_dir']}")
            floor = heads * n * n * d / (lanes * block)
            rec = dict(seq_len=n, nq=n, nk=n, heads=heads, head_dim=d, lanes=lanes, block=block,
                       multipliers=2 * lanes * block, cycles=res["cycles"], floor=floor,
                       utilisation=round(floor / res["cycles"], 4),
                       kv_load_cycles=res["kv_last_cycle"] - res["first_input_cycle"] + 1,
                       sim_cycles_per_second=res["sim_cycles_per_second"],
                       wall_seconds=round(time.time() - start, 1),
                       target=target_for(n), words_compared=res["words_compared"])
            rec["meets_target"] = rec["target"] is None or rec["utilisation"] >= rec["target"]
            log(f"  {rec['cycles']:,} cycles, floor {floor:,.0f}, utilisation "
                f"{rec['utilisation']:.4f}, {rec['sim_cycles_per_second']:,.0f} sim cycles/s")
            records.append(rec)
    return records


def markdown_table(records):
    lines = ["| head_dim | lanes | block | multipliers | N (= Nq = Nk) | heads | cycles | floor "
             "| utilisation | target | K/V load cycles | sim cycles/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        target = "" if r["target"] is None else (f"≥ {r['target']:.2f} "
                                                 + ("met" if r["meets_target"] else "**missed**"))
        lines.append(f"| {r['head_dim']} | {r['lanes']} | {r['block']} | {r['multipliers']} "
                     f"| {r['seq_len']} | {r['heads']} | {r['cycles']:,} | {r['floor']:,.0f} "
                     f"| {r['utilisation']:.4f} | {target} | {r['kv_load_cycles']:,} "
                     f"| {r['sim_cycles_per_second']:,.0f} |")
    return "\n".join(lines)


def _plot(records, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    keys = sorted({(r["head_dim"], r["lanes"], r["block"]) for r in records})
    for key in keys:
        rs = sorted((r for r in records if (r["head_dim"], r["lanes"], r["block"]) == key),
                    key=lambda r: r["seq_len"])
        label = f"d={key[0]} lanes={key[1]} block={key[2]}"
        ax1.plot([r["seq_len"] for r in rs], [r["utilisation"] for r in rs], "o-", label=label)
        ax2.loglog([r["floor"] for r in rs], [r["cycles"] for r in rs], "o-", label=label)
    for n, u in TARGETS:
        ax1.hlines(u, n, max(r["seq_len"] for r in records), colors="grey", linestyles="dashed")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("sequence length N (Nq = Nk)")
    ax1.set_ylabel("utilisation = floor / cycles")
    ax1.set_title("Multiplier utilisation, K/V load included (dashed: targets)")
    ax1.legend()
    lo = min(r["floor"] for r in records)
    hi = max(r["cycles"] for r in records)
    ax2.loglog([lo, hi], [lo, hi], "k--", label="cycles = floor")
    ax2.set_xlabel("floor = Nq Nk d / (lanes block)")
    ax2.set_ylabel("cycles")
    ax2.set_title("Cycles against the multiplier floor")
    ax2.legend()
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110), binary=True)
    plt.close(fig)


def write_report(records, out_dir, *, json_path=None, command="attnhw bench"):
    """``bench.json``, ``bench.md`` and ``bench.png`` in ``out_dir`` (and the JSON at
    ``json_path`` too). Returns the markdown text."""
    out = pathlib.Path(out_dir)
    text = json.dumps({"attnhw_version": __version__, "command": command, "records": records}, indent=1) + "\n"
    atomic_write(out / "bench.json", lambda f: f.write(text))
    if json_path:
        atomic_write(json_path, lambda f: f.write(text))
    missed = [r for r in records if not r["meets_target"]]
    md = (f"Generated by `{command}`.\n\n" + markdown_table(records) + "\n\n"
          + (f"{len(missed)} of {len(records)} runs miss their target.\n" if missed
             else "Every run with a target meets it.\n"))
    atomic_write(out / "bench.md", lambda f: f.write(md))
    _plot(records, out / "bench.png")
    return md
