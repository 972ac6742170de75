"""The output projection's requantiser (attnhw.hdl.requantiser) against
attnhw.golden.out_proj.requantise: one operand set per cycle, each result compared
``latency`` cycles later; random operands plus the corners (sh = 0, the largest
shift, saturation on both sides, ties)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from attnhw.golden.out_proj import requantise
from attnhw.hdl.requantiser import SHIFT_BITS, Requantiser


def corners(aw, mb, ow):
    x_lo, x_hi = -(1 << aw - 1), (1 << aw - 1) - 1
    m_hi = (1 << mb) - 1
    sh_hi = min((1 << SHIFT_BITS) - 1, 62)
    rows = [(0, 0, 0), (x_hi, m_hi, 0), (x_lo, m_hi, 0), (x_hi, m_hi, sh_hi),
            (x_lo, m_hi, sh_hi), (x_lo, 1, 1), (-1, 1, 1), (1, 1, 1), (-3, 1, 1),
            (3, 1, 1), (1 << ow, 1, 1), (-(1 << ow), 1, 1)]
    return rows + [(x, 1 << mb - 1, s) for x in (x_lo, x_hi, 5, -5) for s in (mb, mb + ow)]


@pytest.mark.parametrize("aw,mb,ow", [(32, 16, 8), (20, 12, 12), (40, 16, 8), (10, 8, 4)])
def test_requantiser_matches_golden(aw, mb, ow):
    rng = np.random.default_rng([aw, mb, ow])
    n = 600
    x = rng.integers(-(1 << aw - 1), 1 << aw - 1, n)
    # Magnitudes of all sizes: a shift near log2(x·M) keeps outputs in range.
    x = x >> rng.integers(0, aw, n)
    M = rng.integers(1 << mb - 1, 1 << mb, n)
    sh = np.clip(np.ceil(np.log2(np.abs(x * M) + 1)).astype(int) - ow
                 + rng.integers(-3, 4, n), 0, 62)
    cases = corners(aw, mb, ow) + list(zip(x.tolist(), M.tolist(), sh.tolist()))
    xs, Ms, shs = (np.array(c, dtype=np.int64) for c in zip(*cases))
    # (x · M must fit int64 in the golden model: aw + mb <= 63 here.)
    expect = requantise(xs, Ms, shs, ow)
    assert len(set(expect.tolist())) > 10, "too few distinct outputs to test much"
    dut = Requantiser(aw, mb, ow)
    got = []

    async def bench(ctx):
        for k in range(len(cases) + dut.latency):
            if k < len(cases):
                ctx.set(dut.x, int(xs[k]))
                ctx.set(dut.M, int(Ms[k]))
                ctx.set(dut.sh, int(shs[k]))
            await ctx.tick()
            if k + 1 >= dut.latency:
                got.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    got = np.array(got[:len(cases)])
    bad = np.nonzero(got != expect)[0]
    assert not len(bad), f"{len(bad)} differ, first: case {cases[bad[0]]} -> " \
                         f"{got[bad[0]]}, golden {expect[bad[0]]}"
