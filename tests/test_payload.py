"""The testbench's vectorised packing agrees with Amaranth's own layout encoding."""

import numpy as np
import pytest

from attnhw.golden.params import AttnParams
from attnhw.hdl.layouts import kv_layout, out_layout, query_layout
from attnhw.sim.payload import pack, unpack


@pytest.mark.parametrize("kw", [dict(), dict(head_dim=16, data_width=16, lanes=4), dict(head_dim=8, lanes=1, data_width=3)])
def test_pack_matches_layout_const_and_round_trips(kw):
    p = AttnParams(**kw)
    rng = np.random.default_rng(0)
    lo, hi = -(1 << (p.data_width - 1)), 1 << (p.data_width - 1)
    n = 20
    k, v = rng.integers(lo, hi, (n, p.lanes)), rng.integers(lo, hi, (n, p.lanes))
    masked, last = rng.integers(0, 2, n), rng.integers(0, 2, n)
    words = pack(kv_layout(p), k=k, v=v, masked=masked, last=last)
    for i in (0, n - 1):
        want = kv_layout(p).const({"k": k[i].tolist(), "v": v[i].tolist(),
                                   "masked": int(masked[i]), "last": int(last[i])}).as_bits()
        assert words[i] == want
    back = unpack(kv_layout(p), words)
    assert (back["k"] == k).all() and (back["v"] == v).all() and (back["last"] == last).all()
    scale = rng.integers(0, 1 << p.scale_width, n)
    qw = pack(query_layout(p), q=k, scale=scale)
    assert qw[3] == query_layout(p).const({"q": k[3].tolist(), "scale": int(scale[3])}).as_bits()
    ow = [out_layout(p).const({"o": v[i].tolist(), "last": int(last[i])}).as_bits() for i in range(n)]
    assert (unpack(out_layout(p), ow)["o"] == v).all()
