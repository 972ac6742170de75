"""What a nextpnr log says about a run: the time of each phase, the placer's timing
estimate and router2's overuse per iteration (a router that diverges shows here).

Lines read (nextpnr 0.7 and later, as YoWASP ships it)::

    Info: HeAP Placer Time: 226.01s
    Info: SA placement time 507.12s
    Info: Max frequency for clock '...': 84.50 MHz (FAIL at 200.00 MHz)
    Info:     iter=22 wires=412345 overused=3048 overuse=3521 archfail=NA
    Info: Router2 time 457.30s
"""

import re

__all__ = ["parse_pnr_log"]

_PHASES = {
    "heap_s": re.compile(r"HeAP Placer Time: ([\d.]+)s"),
    "sa_s": re.compile(r"SA placement time ([\d.]+)s"),
    "router2_s": re.compile(r"Router2 time ([\d.]+)s"),
    "router1_s": re.compile(r"Router1 time ([\d.]+)s"),
}
_FMAX = re.compile(r"Max frequency for clock '[^']*': ([\d.]+) MHz")
_ITER = re.compile(r"iter=(\d+) wires=(\d+) overused=(\d+) overuse=(\d+)")


def parse_pnr_log(text):
    """A summary of nextpnr's log ``text``.

    Returns
    -------
    dict
        ``heap_s``, ``sa_s``, ``router2_s``, ``router1_s``: seconds of each phase (None
        where it did not finish); ``placed_mhz``: the timing estimate after placement
        (the first Fmax line); ``overuse``: ``[iteration, overused wires]`` per router2
        iteration; ``min_overused`` (and the iteration it was reached at) and
        ``last_overused``: whether the router was still converging when it stopped.
    """
    out = {name: (float(m.group(1)) if (m := rx.search(text)) else None)
           for name, rx in _PHASES.items()}
    fmax = _FMAX.findall(text)
    out["placed_mhz"] = float(fmax[0]) if fmax else None
    iters = [[int(i), int(over)] for i, _, over, _ in _ITER.findall(text)]
    out["overuse"] = iters
    if iters:
        best = min(iters, key=lambda it: it[1])
        out.update(min_overused=best[1], min_overused_iter=best[0],
                   last_overused=iters[-1][1], router_iterations=iters[-1][0])
    return out
