"""attnhw board build: the board list and its one-line errors, the PLL settings, and the
board top's build plan (pins, PLL) without running the toolchain."""

import pytest

from attnhw.board_build import BAUD, BOARDS, BoardTop, engine_pll, link_pll
from attnhw.cli import main
from attnhw.golden.params import AttnParams
from attnhw.hdl.board_link import LinkParams


def test_board_list_and_errors(capsys):
    assert main(["board", "build", "--board"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in BOARDS)
    assert main(["board", "build", "--board", "icebreaker", "-o", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown board 'icebreaker'" in err
    assert main(["board", "build", "--board", "orangecrab-85", "-o", "x"]) == 2
    assert "no USB-UART bridge" in capsys.readouterr().err


def _legal(fin, pll, at_most):
    """EHXPLLL limits (Lattice TN1263): PFD 3.125-400 MHz, VCO 400-800 MHz, output
    10-400 MHz; not above the request. Returns the output frequency."""
    pfd = fin / pll["refclk_div"]
    fout = pfd * pll["feedback_div"]
    assert 3.125 <= pfd <= 400 and 400 <= fout * pll["output_div"] <= 800
    assert abs(fout - pll["fout"]) < 1e-6 and 10 <= fout <= at_most
    return fout


@pytest.mark.parametrize("fin,at_most", [(25, 100), (25, 83.3), (100, 120), (100, 97)])
def test_engine_pll_is_legal_and_close(fin, at_most):
    fout = _legal(fin, engine_pll(fin, at_most), at_most)
    assert at_most - fout < 0.02 * at_most


@pytest.mark.parametrize("fin", [25, 100])
def test_link_pll_gives_3_mbaud(fin):
    """The link's clock: at most 48 MHz from either board clock, 16 clocks a bit."""
    pll, divisor = link_pll(fin)
    fout = _legal(fin, pll, 48)
    assert abs(fout * 1e6 / divisor / BAUD - 1) <= 0.01 and divisor >= 4


def test_ulx3s_plan_has_the_uart_pins_and_two_plls():
    """The ULX3S's FTDI UART is on M1 (rx) and L4 (tx), its clock on G2 (ULX3S
    schematic, as amaranth-boards has them)."""
    p = AttnParams(head_dim=8, lanes=4, data_width=6, max_seq_len=16, block=2)
    link, divisor = link_pll(25)
    plan = BOARDS["ulx3s-85f"].make_platform().build(
        BoardTop("ulx3s-85f", p, 25, link, engine_pll(25, 100), LinkParams(divisor=divisor)),
        name="top", do_build=False)
    lpf = plan.files["top.lpf"]
    for site in ("M1", "L4", "G2"):
        assert f'SITE "{site}"' in lpf
    rtlil = plan.files["top.il"]
    assert rtlil.count("cell \\EHXPLLL") == 2
