"""What a synthesis run reports: the worst path read from nextpnr's report, and the
text ``attnhw synth`` prints (one configuration, one line per seed, other families)."""

import re

from .synth_targets import TARGETS

__all__ = ["critical_path", "format_report", "format_seeds"]


def _cell_owner(cell):
    """``unit.acc.delta1_TRELLIS_FF_Q_5`` -> ``unit.acc.delta1``: the RTL name a
    mapped cell was made from (Yosys appends the cell type and an index)."""
    return re.split(r"_(?:TRELLIS|CCU2C|LUT4|PFUMX|L6MUX21|MULT18X18D|DP16KD|SB_|ICESTORM)",
                    cell, maxsplit=1)[0].split("$")[0]


def critical_path(report):
    """The clock's worst path in nextpnr's ``--report`` JSON, summarised:
    ``{from, to, ns, logic_ns, routing_ns, logic_steps}``."""
    paths = [c for c in report.get("critical_paths", [])
             if c.get("from", "").startswith("posedge") and c.get("to", "").startswith("posedge")]
    if not paths:
        return None
    steps = paths[0]["path"]
    logic = sum(s["delay"] for s in steps if s["type"] in ("clk-to-q", "logic", "setup"))
    routing = sum(s["delay"] for s in steps if s["type"] == "routing")
    return {"from": _cell_owner(steps[0]["from"]["cell"]),
            "to": _cell_owner(steps[-1]["to"]["cell"]),
            "ns": round(logic + routing, 2), "logic_ns": round(logic, 2),
            "routing_ns": round(routing, 2),
            "logic_steps": sum(s["type"] == "logic" for s in steps)}


def format_seeds(r):
    """One line per seed of a ``seeds`` run: Fmax or why not, time, worst path."""
    lines = []
    for run in r["seeds"]:
        pnr = run["pnr"]
        head = (f"  seed {run['seed']}: " + (f"{run['fmax_mhz']} MHz" if run["routed"]
                                             else "not routed") + f", {run['seconds']} s")
        if pnr.get("overuse"):
            head += (f" (router2: {pnr['router_iterations']} iterations, fewest overused wires "
                     f"{pnr['min_overused']} at {pnr['min_overused_iter']}, last "
                     f"{pnr['last_overused']})")
        lines.append(head)
        cp = run.get("critical_path")
        if cp:
            lines.append(f"    worst path {cp['ns']} ns ({cp['logic_ns']} logic, "
                         f"{cp['routing_ns']} routing): {cp['from']} -> {cp['to']}")
        elif run.get("error"):
            lines.append(f"    {run['error']}")
    lowest = r["fmax_min_mhz"]
    lines.append("  lowest Fmax " + (f"{lowest} MHz" if lowest is not None
                                     else "none: not every seed routed"))
    return "\n".join(lines)


def format_report(r):
    if "seeds" in r:
        area = (f"  LUTs {r.get('luts')}, FFs {r.get('ffs')}, DSPs {r.get('dsps')}, "
                f"BRAMs {r.get('brams')}" if r.get("luts") is not None
                else "  (no seed finished: no area figures)")
        return "\n".join([f"{r['device']}, seeds {', '.join(str(x['seed']) for x in r['seeds'])}"
                          f" at {r['commit']}", area, format_seeds(r)])
    if TARGETS[r["target"]].figures == "netlist":
        cap = r["capacity"]
        lines = [f"{r['device']}: head_dim {r['params']['head_dim']}, lanes "
                 f"{r['params']['lanes']}, data_width {r['params']['data_width']}",
                 f"  LUTs  {r['luts']} / {cap['luts']}",
                 f"  FFs   {r['ffs']} (harness's {r['harness_ffs_subtracted']} subtracted)",
                 f"  DSPs  {r['dsps']} / {cap['dsps']}"
                 + (f"  (pipeline registers absorbed: {r['dsp_registers']})"
                    if r["dsp_registers"] else ""),
                 f"  BRAMs {r['brams']} / {cap['brams']} ({r['bram_unit']})",
                 f"  LUT-RAM cells {r['lutram']}",
                 f"  Fmax  {r['fmax_mhz']} MHz   ({r['seconds']} s)"
                 + (f"  [{r['note']}]" if r["note"] else "")]
        return "\n".join(lines)

    def avail(cell):
        return r["utilization"].get(cell, {}).get("available")
    cells = TARGETS[r["target"]].cells
    lines = [f"{r['device']}: head_dim {r['params']['head_dim']}, lanes {r['params']['lanes']}, "
             f"data_width {r['params']['data_width']}",
             f"  LUTs  {r['luts']} / {avail(cells['luts'])}",
             f"  FFs   {r['ffs']} (harness's {r['harness_ffs_subtracted']} subtracted)",
             f"  DSPs  {r['dsps']} / {avail(cells['dsps'])}",
             f"  BRAMs {r['brams']} / {avail(cells['brams'])}"]
    if r.get("lutram") is not None:
        lines.append(f"  LUT-RAM blocks {r['lutram']}")
    lines.append(f"  Fmax  {r['fmax_mhz']} MHz   ({r['seconds']} s)")
    cp = r.get("critical_path")
    if cp:
        lines.append(f"  worst path {cp['ns']} ns ({cp['logic_ns']} logic, {cp['routing_ns']} "
                     f"routing): {cp['from']} -> {cp['to']}")
    return "\n".join(lines)
