"""Other FPGA families in `attnhw synth`: the cell counting, and Yosys's Xilinx flow
absorbing the generic Verilog's registered multipliers into the DSP48E1 blocks."""

from attnhw.golden.params import AttnParams
from attnhw.synth import synthesize
from attnhw.synth_families import FAMILIES, count_cells, over_capacity
from attnhw.hdl.synth_harness import unit_component


def _netlist(cells):
    return {"modules": {"top": {"cells": {f"c{i}": c for i, c in enumerate(cells)}}}}


def test_cells_are_counted_by_category_in_the_familys_units():
    reg = "0" * 31 + "1"
    cells = ([{"type": "LUT6", "parameters": {}}] * 3 + [{"type": "LUT2", "parameters": {}}]
             + [{"type": "FDRE", "parameters": {}}] * 5 + [{"type": "FDSE", "parameters": {}}]
             + [{"type": "RAMB36E1", "parameters": {}}] + [{"type": "RAMB18E1", "parameters": {}}] * 3
             + [{"type": "DSP48E1", "parameters": {"AREG": reg, "MREG": reg, "PREG": "0" * 32}}] * 2
             + [{"type": "RAM64M", "parameters": {}}, {"type": "CARRY4", "parameters": {}}])
    got = count_cells(_netlist(cells), "xc7")
    assert (got["luts"], got["ffs"], got["brams"], got["dsps"], got["lutram"]) == (4, 6, 2.5, 2, 1)
    assert got["dsp_registers"] == {"AREG": 2, "MREG": 2, "PREG": 0}
    assert got["by_type"]["CARRY4"] == 1
    assert set(FAMILIES) == {"xc7", "xcup", "cyclonev", "gowin", "nexus"}


def test_xilinx_dsps_absorb_the_registered_multipliers(tmp_path):
    """The dot product's lanes are `Multiplier`s: a registered `*` with an output
    register in the generic Verilog; synth_xilinx makes each one DSP48E1 with its
    multiplier register (MREG) on."""
    p = AttnParams(head_dim=8, lanes=4, max_seq_len=16)
    r = synthesize(p, "xc7", unit=unit_component(p, "dot_product"), work_dir=tmp_path,
                   log=lambda *a: None)
    assert r["dsps"] == p.lanes
    assert r["dsp_registers"]["MREG"] == p.lanes
    assert r["fmax_mhz"] is None and "no open place and route" in r["note"]


def test_over_capacity_reads_nextpnrs_utilisation():
    log = ("Info: Device utilisation:\n"
           "Info: \t                LUT4:   16697/  20736    80%\n"
           "Info: \t                 DFF:   16490/  15552   106%\n"
           "Info: \t               BSRAM:      46/     46   100%\n")
    assert over_capacity(log) == ["DFF 16490/15552"]
    assert over_capacity(log.replace("16490", "15552")) == []
