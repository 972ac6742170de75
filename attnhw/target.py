"""One synthesis target: device, Yosys script, place and route, and how its figures are
read. The registry of every target is :data:`attnhw.synth_targets.TARGETS`."""

import dataclasses

from attnhw.golden.errors import InputError

__all__ = ["Target", "ABC_FLOWS"]

#: LUT mappers a target with ``abc_scripts`` offers; the first is the default.
ABC_FLOWS = ("abc", "abc9")


@dataclasses.dataclass(frozen=True)
class Target:
    """A device and the flow that builds for it.

    ``family``: what gateware sees at elaboration (``platform.family``; "ecp5" selects
    DSP and block-RAM primitives, anything else the generic gateware). ``figures``:
    ``"report"`` when nextpnr's report gives the area (``cells``: the report's cell
    name per category) and the flow can run several seeds; ``"netlist"`` when the area
    is counted in Yosys's netlist (``cells``: per category, ``{cell type: weight}`` in
    the family's unit) and Fmax comes from nextpnr where ``pnr`` is set. ``script``:
    the Yosys commands, with ``{top}`` for the module and, on targets that offer a
    LUT mapper (``abc_scripts``), ``{abc}`` for its commands. ``pnr``: nextpnr and its
    device options, or None. ``clock_pin``: the harness's clock pad (an LPF);
    ``constraints``: ``(file name, text)`` of a constraint file the flow writes;
    ``note``: why Fmax is empty (no place and route on PyPI)."""

    name: str
    device: str
    family: str
    script: str
    cells: dict
    figures: str = "report"
    pnr: tuple | None = None
    abc_scripts: dict | None = None
    clock_pin: str | None = None
    constraints: tuple | None = None
    capacity: dict | None = None
    bram_unit: str | None = None
    note: str | None = None

    def yosys_script(self, abc="abc", top="top"):
        """The Yosys commands for the module ``top`` with LUT mapper ``abc``
        (:data:`ABC_FLOWS`; targets without a choice take their own)."""
        if abc not in ABC_FLOWS:
            raise InputError(f"unknown LUT mapper {abc!r}; choose one of {', '.join(ABC_FLOWS)}")
        mapper = self.abc_scripts[abc] if self.abc_scripts else ""
        return self.script.format(top=top, abc=mapper.format(top=top))

    def constraint_options(self, work):
        """Write the target's constraint file into ``work``; nextpnr's options for it.
        On ECP5 the clock's pad goes on a dedicated clock input: placed freely, it can
        land on a pin with no route to a global buffer, and nextpnr then fails ("Failed
        to route arc 0.0 of net 'clk$TRELLIS_IO_IN' ... to X0/Y0/G_CLKI_TDCC0", seen
        with the projection engine at seed 1)."""
        if self.clock_pin:
            (work / "clock.lpf").write_text(f'LOCATE COMP "clk" SITE "{self.clock_pin}";\n')
            return ["--lpf", "clock.lpf", "--lpf-allow-unconstrained"]
        if self.constraints:
            name, text = self.constraints
            (work / name).write_text(text)
        return []
