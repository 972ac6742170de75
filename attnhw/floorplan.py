"""DSP floorplans: each core's multipliers pinned to one stretch of an ECP5 DSP row.

Placed freely, a core's multipliers spread along the die's DSP rows, and the nets
that reach all of a core's lanes (the accumulator's shift, ``first``, the slot
address) cross most of a row (docs/limits.md, issue 27). A floorplan writes
nextpnr's ``BEL`` attribute on each ``MULT18X18D`` of the Yosys netlist, so that a
core's dot product and its accumulator each take one third of a row, one above the
other; the placer then pulls the core's logic between them.
"""
import json
import re

__all__ = ["FLOORPLANS", "dsp_sites", "dsp_groups", "dsp_floorplan", "apply_floorplan"]

#: The LFE5U-85's DSP rows and the first column of each of a row's 13 DSP slices;
#: a slice holds MULT18_0, _1, _4 and _5 at its first column + 0, 1, 4 and 5.
#: Read from nextpnr-ecp5 0.11.1's placement (``--write``) of 156 MULT18X18Ds.
ECP5_85_DSP_ROWS = (10, 34, 58)
_SLICE_COLUMNS = (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)
_SLICE_MULTS = ((0, "MULT18_0"), (1, "MULT18_1"), (4, "MULT18_4"), (5, "MULT18_5"))
_THIRDS = 3

#: Floorplans ``attnhw synth --floorplan`` knows (none: nextpnr places every DSP).
FLOORPLANS = ("none", "core-columns")

_CELL = re.compile(r"\.core(\d+)\.(dot|scale|acc|softmax)\.(?:mult(\d+)\.)?")


def dsp_sites(row):
    """The ``MULT18X18D`` BEL names of DSP row ``row``, left to right (52 on the -85)."""
    return [f"X{x + dx}/Y{row}/{bel}" for x in _SLICE_COLUMNS for dx, bel in _SLICE_MULTS]


def dsp_groups(cell_names):
    """Group the engine's DSP cells by core: ``{(core, "dot"|"acc"): [names]}``.

    A core's score × scale multiplier joins its dot product and its exp's
    interpolation multiplier joins its accumulator (the neighbours they feed); the
    lanes' multipliers come in lane order, the extra one last. Cells outside a core
    are left to the placer."""
    groups = {}
    for name in cell_names:
        m = _CELL.search(name)
        if not m:
            continue
        core, unit, lane = int(m[1]), m[2], m[3]
        side = "dot" if unit in ("dot", "scale") else "acc"
        order = int(lane) if lane is not None else 1 << 16
        groups.setdefault((core, side), []).append((order, name))
    return {k: [n for _, n in sorted(v)] for k, v in sorted(groups.items())}


def dsp_floorplan(cell_names):
    """``{cell name: BEL}`` of the core-columns floorplan on the LFE5U-85.

    Cores 0–2 take one third each of rows 10 (dot product) and 34 (accumulator),
    so a core's two groups sit one above the other; core 3 takes the left and middle
    thirds of row 58. Raises ``ValueError`` when a group does not fit in a third, for
    a core beyond the fourth, or when no core's DSPs are found."""
    rows = ECP5_85_DSP_ROWS
    segments = []                      # (row, third), column by column over rows 1-2
    for third in range(_THIRDS):
        segments += [(rows[0], third), (rows[1], third)]
    segments += [(rows[2], third) for third in range(_THIRDS)]
    groups = dsp_groups(cell_names)
    if not groups:
        raise ValueError("no core's DSP cells in the netlist (cell names like "
                         "'engine.core0.dot.mult0.dsp'): nothing to pin")
    bels = {}
    for (core, side), names in groups.items():
        slot = 2 * core + (side == "acc")
        if slot >= len(segments):
            raise ValueError(f"core {core}'s DSPs do not fit: the LFE5U-85's DSP rows "
                             f"have {len(segments)} thirds, for {len(segments) // 2} cores")
        row, third = segments[slot]
        sites = dsp_sites(row)
        lo, hi = (round(len(sites) * t / _THIRDS) for t in (third, third + 1))
        if len(names) > hi - lo:
            raise ValueError(f"core {core}'s {side} group has {len(names)} DSPs; a "
                             f"third of a DSP row has {hi - lo}")
        bels.update(zip(names, sites[lo:hi]))
    return bels


def apply_floorplan(netlist_path, floorplan, dsp_type="MULT18X18D"):
    """Write ``floorplan``'s ``BEL`` attributes into the Yosys JSON ``netlist_path``;
    returns the number of cells pinned."""
    if floorplan == "none":
        return 0
    if floorplan not in FLOORPLANS:
        raise ValueError(f"unknown floorplan {floorplan!r}; choose one of "
                         f"{', '.join(FLOORPLANS)}")
    with open(netlist_path) as f:
        netlist = json.load(f)
    (module,) = [m for m in netlist["modules"].values()
                 if m.get("attributes", {}).get("top")] or netlist["modules"].values()
    cells = module["cells"]
    bels = dsp_floorplan([n for n, c in cells.items() if c["type"] == dsp_type])
    for name, bel in bels.items():
        cells[name]["attributes"]["BEL"] = bel
    with open(netlist_path, "w") as f:
        json.dump(netlist, f)
    return len(bels)
