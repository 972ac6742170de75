"""Board bitstreams (``attnhw board build``): the engine behind the UART host link
(:class:`attnhw.hdl.board_link.BoardLink`) on a real board, clocked from an ECP5 PLL,
built by Amaranth's board flow (``amaranth-boards``) with the YoWASP tools.

The build tries the requested clock; if nextpnr's timing falls short, it rebuilds at the
highest PLL clock below what nextpnr reached, up to :data:`TRIES` times, and fails
loudly if it never meets timing: no bitstream leaves a failed closure.
"""

import dataclasses
import json
import os
import pathlib
import shutil
import time
import types

from amaranth.hdl import ClockDomain, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from attnhw.golden.errors import InputError, ToolError
from attnhw.hdl.board_link import BoardLink, LinkParams

__all__ = ["BOARDS", "Board", "pll_options", "engine_pll", "link_pll", "BoardTop",
           "build_board", "TRIES"]

#: Builds tried per board build (each a full place and route).
TRIES = 3
#: The host link's baud rate; a whole divisor of the link's clock within 1% of it.
BAUD = 3_000_000
#: The link's clock (MHz) at most: 16 clocks a bit at 3 Mbaud (at 60 MHz the link
#: reached 55.40 MHz on the ULX3S, its executor's state to the query FIFO's write
#: enable across the die, 2026-12-04).
LINK_MHZ = 48.0


@dataclasses.dataclass(frozen=True)
class Board:
    """A board: its Amaranth platform (``module:class`` of amaranth-boards), the input
    clock resource, and how to load a bitstream (documentation only)."""
    platform: str
    clock: str
    flash: str
    #: The engine clock a build tries first (MHz): about what the ecp5-engine preset
    #: reaches at the board's speed grade (ULX3S, -6: 66.84 MHz for an 80 MHz target,
    #: 60.30 for 65, 2026-12-04).
    first_mhz: float = 100.0
    #: Why the board cannot be built (None: it can).
    unsupported: str = None

    def make_platform(self):
        import importlib
        module, cls = self.platform.split(":")
        return getattr(importlib.import_module(module), cls)()


BOARDS = {
    "ulx3s-85f": Board("amaranth_boards.ulx3s:ULX3S_85F_Platform", "clk25",
                       "openFPGALoader -b ulx3s DIR/attnhw_ulx3s-85f.bit", first_mhz=58.0),
    "ecpix5-85": Board("amaranth_boards.ecpix5:ECPIX585Platform", "clk100",
                       "openFPGALoader -b ecpix5 DIR/attnhw_ecpix5-85.bit", first_mhz=85.0),
    "orangecrab-85": Board("amaranth_boards.orangecrab_r0_2:OrangeCrabR0_2_85FPlatform",
                           "clk48", "dfu-util -D DIR/attnhw_orangecrab-85.bit",
                           unsupported="it has no USB-UART bridge: its USB port goes straight "
                                       "to the FPGA, so the link would need a USB device core "
                                       "(not built)"),
}

# EHXPLLL limits (MHz): phase detector, VCO, output (Lattice TN1263).
_PFD = (3.125, 400.0)
_VCO = (400.0, 800.0)
_OUT = (10.0, 400.0)


def pll_options(fin):
    """Every EHXPLLL output (MHz) from ``fin`` MHz with feedback from CLKOP, ``fout =
    fin / refclk_div * feedback_div`` and VCO ``fout * output_div`` (ecppll's search
    space), each with its dividers."""
    options = {}
    for refclk_div in range(1, 129):
        fpfd = fin / refclk_div
        if not _PFD[0] <= fpfd <= _PFD[1]:
            continue
        for feedback_div in range(1, 81):
            out = fpfd * feedback_div
            if not _OUT[0] <= out <= _OUT[1]:
                continue
            for output_div in range(1, 129):
                fvco = out * output_div
                if _VCO[0] <= fvco <= _VCO[1] and round(out, 6) not in options:
                    options[round(out, 6)] = {
                        "refclk_div": refclk_div, "feedback_div": feedback_div,
                        "output_div": output_div, "fout": round(out, 6), "fvco": fvco}
                    break
    return options


def engine_pll(fin, at_most):
    """The PLL's dividers for the highest clock it makes from ``fin`` MHz at or below
    ``at_most`` MHz."""
    fits = [f for f in pll_options(fin) if f <= at_most]
    if not fits:
        raise InputError(f"no PLL clock from {fin:g} MHz at or below {at_most:g} MHz")
    return pll_options(fin)[max(fits)]


def link_pll(fin, at_most=LINK_MHZ):
    """The link's PLL: the highest clock at or below ``at_most`` MHz that a whole UART
    divisor brings within 1% of 3 Mbaud; ``(dividers, divisor)``."""
    for fout, dividers in sorted(pll_options(fin).items(), reverse=True):
        divisor = round(fout * 1e6 / BAUD)
        if fout <= at_most and divisor >= 4 and abs(fout * 1e6 / divisor / BAUD - 1) <= 0.01:
            return dividers, divisor
    raise InputError(f"no PLL clock from {fin:g} MHz at or below {at_most:g} MHz suits "
                     f"a {BAUD / 1e6:g} Mbaud link")


def _pll(fin, dividers, clk, locked, clk_in):
    """An EHXPLLL with feedback from CLKOP (as ecppll writes it)."""
    return Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{fin:g}", a_FREQUENCY_PIN_CLKOP=f"{dividers['fout']:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
        a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
        p_CLKI_DIV=dividers["refclk_div"], p_CLKFB_DIV=dividers["feedback_div"],
        p_CLKOP_DIV=dividers["output_div"], p_CLKOP_CPHASE=dividers["output_div"] // 2,
        p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
        i_CLKI=clk_in, i_CLKFB=clk, o_CLKOP=clk, o_LOCK=locked,
        i_RST=Const(0), i_STDBY=Const(0), i_PHASESEL0=Const(0), i_PHASESEL1=Const(0),
        i_PHASEDIR=Const(1), i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1),
        i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0))


class BoardTop(Elaboratable):
    """The board's top: the input clock through two EHXPLLLs, one to the link's
    ``sync`` domain (a whole multiple of the baud rate), one to the ``engine``
    domain, each held in reset until its PLL locks; :class:`BoardLink` on the UART
    pins."""

    def __init__(self, board, params, fin, link_dividers, engine_dividers, link):
        self.board, self.params, self.fin, self.link = board, params, fin, link
        self.plls = {"sync": link_dividers, "engine": engine_dividers}

    def elaborate(self, platform):
        m = Module()

        def buffer(name, direction, port):
            m.submodules[name] = buf = io.Buffer(direction, port)
            return buf

        clk_in = buffer("clk_buf", "i", platform.request(BOARDS[self.board].clock, 0, dir="-"))
        uart = platform.request("uart", 0, dir="-")
        rx, tx = buffer("rx_buf", "i", uart.rx), buffer("tx_buf", "o", uart.tx)
        # (The ULX3S's `uart_tx_enable`, L3, is left alone: it is the FT231X's TXDEN, an
        # output of the FTDI chip in the ULX3S's own pin files.)
        # (nextpnr derives each PLL output's constraint from the input pin's)
        for domain, dividers in self.plls.items():
            cd = ClockDomain(domain)
            m.domains += cd
            locked = Signal(name=f"{domain}_locked")
            m.submodules[f"{domain}_pll"] = _pll(self.fin, dividers, cd.clk, locked, clk_in.i)
            m.submodules[f"{domain}_reset"] = ResetSynchronizer(~locked, domain=domain)
        m.submodules.link = link = BoardLink(self.params, self.link, own_engine_clock=False)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        return m


def build_board(board, params, out_dir, *, clock_mhz=None, seed=1, log=print):
    """Build ``board``'s bitstream for engine parameters ``params`` into ``out_dir``;
    returns the report dict (also written as ``attnhw_<board>.json``)."""
    from .amaranth_build import flow_overrides, use_yowasp
    from .synth import _lattice_result

    if board not in BOARDS:
        raise InputError(f"unknown board {board!r}; choose one of {', '.join(BOARDS)}")
    spec = BOARDS[board]
    if spec.unsupported:
        raise InputError(f"{board} is not supported: {spec.unsupported}")
    use_yowasp()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    platform = spec.make_platform()
    fin = platform.resources[(spec.clock, 0)].clock.frequency / 1e6
    want = clock_mhz or spec.first_mhz
    tries, start = [], time.time()
    link_dividers, divisor = link_pll(fin)
    link = LinkParams(divisor=divisor)
    for attempt in range(TRIES):
        pll = engine_pll(fin, want)
        work = out / f"try{attempt + 1}"
        log(f"{board}: building, the engine at {pll['fout']:g} MHz, the link at "
            f"{link_dividers['fout']:g} MHz, in {work} ...")
        t0 = time.time()
        top = f"attnhw_{board.replace('-', '_')}"
        plan = spec.make_platform().build(
            BoardTop(board, params, fin, link_dividers, pll, link), name=top, do_build=False,
            **flow_overrides(seed=seed, freq_mhz=pll["fout"], placer="static", top=top))
        try:
            plan.execute_local(str(work))
        except Exception as e:
            raise ToolError(f"the {board} build failed ({e}); logs in {work}") from None
        report = json.loads((work / "report.json").read_text())
        # Cell counts as attnhw synth reads them (a board top has no harness to subtract).
        res = _lattice_result(params, "ecp5", work, types.SimpleNamespace(harness_ffs=0), report)
        clocks = report["fmax"].values()
        met = all(c["achieved"] >= c["constraint"] for c in clocks)
        # The engine's clock: the one constrained at its PLL's frequency.
        engine = min(clocks, key=lambda c: abs(c["constraint"] - pll["fout"]))
        link_clock = [c for c in clocks if c is not engine]
        tries.append({"clock_mhz": pll["fout"], "fmax_mhz": round(engine["achieved"], 2),
                      "link_fmax_mhz": round(min(c["achieved"] for c in link_clock), 2)
                      if link_clock else None, "met": met,
                      "seconds": round(time.time() - t0, 1)})
        log(f"  nextpnr: the engine's clock {tries[-1]['fmax_mhz']} MHz for "
            f"{pll['fout']:g}, the link's {tries[-1]['link_fmax_mhz']} MHz for "
            f"{link_dividers['fout']:g}")
        if met:
            name = f"attnhw_{board}"
            stem = work / top
            for ext in ("bit", "svf"):
                shutil.copy(f"{stem}.{ext}", out / f"{name}.{ext}")
            summary = {"board": board, "device": f"{platform.device}-{platform.speed}"
                       f"{platform.package}", "clock_mhz": pll["fout"],
                       "link_clock_mhz": link_dividers["fout"],
                       "uart_baud": round(link_dividers["fout"] * 1e6 / divisor),
                       "pll": pll, "link_pll": link_dividers,
                       "link": dataclasses.asdict(link), "params": params.as_dict(),
                       **{k: res[k] for k in ("luts", "ffs", "dsps", "brams")},
                       "fmax_mhz": tries[-1]["fmax_mhz"],
                       "bit_bytes": (out / f"{name}.bit").stat().st_size,
                       "tries": tries, "seconds": round(time.time() - start, 1),
                       "flash": spec.flash.replace("DIR", str(out))}
            (out / f"{name}.json").write_text(json.dumps(summary, indent=2))
            return summary
        if tries[-1]["link_fmax_mhz"] is not None and \
                tries[-1]["link_fmax_mhz"] < link_dividers["fout"]:
            raise ToolError(f"{board}: the link's {link_dividers['fout']:g} MHz clock reached "
                            f"only {tries[-1]['link_fmax_mhz']} MHz; no bitstream written")
        want = tries[-1]["fmax_mhz"] * 0.98
    reached = ", ".join(f"{t['fmax_mhz']} MHz at {t['clock_mhz']:g}" for t in tries)
    raise ToolError(f"{board}: timing not met after {TRIES} builds ({reached}); "
                    "no bitstream written")
