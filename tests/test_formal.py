"""Formal properties in `make test`: the fast proofs pass, and every property's
broken variant but the whole core's fails with a counterexample trace (so no property
holds vacuously).
`make formal` runs all of them, with their covers, at the depths in the README."""

import pytest

from attnhw.golden.params import AttnParams
from attnhw.hdl.exp2 import Exp2
from attnhw.sim.exhaustive_exp import check_exp_exhaustive
from attnhw.sim.formal.harnesses import PROPERTIES
from attnhw.sim.formal.sby import run_property

BY_NAME = {p.name: p for p in PROPERTIES}
FAST = ["skid_buffer", "no_overflow_n2", "no_overflow_n8", "exp_monotone", "exp_matches_spec"]


@pytest.mark.parametrize("name", FAST)
def test_property_holds(name, tmp_path):
    res = run_property(BY_NAME[name], out_dir=tmp_path)
    assert res["status"] == "pass", open(res["log"]).read()[-2000:]


# core_protocol's broken variant needs a BMC as deep as the core's pipeline (2.5-5 min):
# `make formal` runs it with the other properties' proofs, broken variants and covers.
@pytest.mark.parametrize("name", [n for n in BY_NAME if n != "core_protocol"])
def test_broken_property_fails_with_a_trace(name, tmp_path):
    res = run_property(BY_NAME[name], broken=True, out_dir=tmp_path)
    assert res["status"] == "fail", open(res["log"]).read()[-2000:]
    assert res["trace"] and res["trace"].endswith(".vcd")


class _OneEntryOff(Exp2):
    """The exp unit with one table entry off by one LSB: the exhaustive check must see it."""
    def table(self):
        t = super().table()
        t[3] += 1
        return t


def test_exp_exhaustive_small_and_broken(tmp_path):
    p = AttnParams(score_frac_bits=10, exp_table_bits=4, exp_bits=10)
    good = check_exp_exhaustive(p, work_dir=tmp_path / "good")
    assert good["ok"] and good["inputs"] == (p.exp_shift_limit + 1) << 10
    bad = check_exp_exhaustive(p, work_dir=tmp_path / "bad", unit=_OneEntryOff)
    assert bad["mismatches"] > 0 and not bad["ok"]
