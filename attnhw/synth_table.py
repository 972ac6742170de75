"""The engine synthesis table (docs/engine.md), from ``attnhw synth --json`` reports and the
benchmark records (``make synth-engine``), so no figure in it is typed by hand."""

import json
import pathlib

from .outputs import replace_between
from .synth import TARGETS

__all__ = ["engine_synth_table", "README_BEGIN", "README_END"]

README_BEGIN = "<!-- engine synthesis table: written by make synth-engine (python -m attnhw.tools synth-table) -->"
README_END = "<!-- end of engine synthesis table -->"


def _utilisation(bench, p):
    """Utilisation at the longest benchmarked N that the report's configuration holds
    (N <= its max_seq_len)."""
    rs = [r for r in bench if (r["head_dim"], r["lanes"], r["block"])
          == (p["head_dim"], p["lanes"], p["block"]) and r["seq_len"] <= p["max_seq_len"]]
    return max(rs, key=lambda r: r["seq_len"]) if rs else None


def _fmax(r):
    """``(Fmax for GMAC/s or None, the Fmax cell)``: a ``--seeds`` report gives the
    lowest of its seeds, and only when every seed routed."""
    if "seeds" not in r:
        return r["fmax_mhz"], f"{r['fmax_mhz']} MHz"
    each = " / ".join(f"{s['fmax_mhz']} MHz" if s["routed"] else "not routed"
                      for s in r["seeds"])
    seeds = ",".join(str(s["seed"]) for s in r["seeds"])
    if r["fmax_min_mhz"] is None:
        return None, f"not routed at every seed ({seeds}: {each})"
    return r["fmax_min_mhz"], f"{r['fmax_min_mhz']} MHz, the lowest of seeds {seeds} ({each})"


def engine_synth_table(reports, bench, commands):
    """Markdown: one row per report (``attnhw synth --top engine --json``, one seed or
    ``--seeds``) with GMAC/s = Fmax x multipliers x utilisation (the benchmark's, at
    its longest N; peak if the configuration was not benchmarked; none unless every
    seed routed)."""
    lines = ["| device | configuration | multipliers | LUTs | FFs | DSPs | BRAMs | Fmax | "
             "GMAC/s | command |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r, cmd in zip(reports, commands):
        p = r["params"]
        mults = 2 * p["lanes"] * p["block"]
        util = r.get("utilization", {})
        cells = TARGETS[r["target"]].cells
        avail = {k: util.get(cells[k], {}).get("available") for k in ("luts", "dsps", "brams")}
        b = _utilisation(bench, p)
        fmax, fmax_cell = _fmax(r)
        if fmax is None:
            gmacs = "—"
        else:
            peak = fmax * mults / 1000
            gmacs = (f"{peak * b['utilisation']:.2f} (utilisation {b['utilisation']:.3f} at N = "
                     f"{b['seq_len']})" if b else f"{peak:.2f} peak (not benchmarked)")
        config = (f"d {p['head_dim']}, int{p['data_width']}, lanes {p['lanes']}, block "
                  f"{p['block']}, norm_lanes {p.get('norm_lanes') or p['lanes']}, max_seq_len "
                  f"{p['max_seq_len']}, exp_bits {p['exp_bits']}")
        area = (f"{r['luts']:,} / {avail['luts']:,} | {r['ffs']:,} | {r['dsps']} / {avail['dsps']} "
                f"| {r['brams']} / {avail['brams']}" if r.get("luts") is not None
                else "— | — | — | —")
        stamp = ", ".join(x for x in (r.get("date", "?"), r.get("commit")) if x)
        lines.append(f"| {r['device']} | {config} | {mults} | {area} | {fmax_cell} | {gmacs} "
                     f"| `{cmd}` ({stamp}) |")
    return "\n".join(lines)


def write_table(report_paths, bench_paths, commands, readme=None):
    """``bench_paths``: bench JSON files whose records are pooled (one per run)."""
    reports = [json.loads(pathlib.Path(path).read_text()) for path in report_paths]
    bench = [r for path in bench_paths or []
             for r in json.loads(pathlib.Path(path).read_text())["records"]]
    md = engine_synth_table(reports, bench, commands)
    if readme:
        replace_between(readme, README_BEGIN, README_END, md)
    return md
