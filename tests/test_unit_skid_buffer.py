"""Skid buffer: every beat passes once, in order, under random gaps and stalls."""

import numpy as np
import pytest

from attnhw.hdl.skid_buffer import SkidBuffer
from tests.unit_sim import run_stream_unit


@pytest.mark.parametrize("gap, stall", [(0.0, 0.0), (0.5, 0.5), (0.0, 0.8), (0.8, 0.0)])
def test_skid_buffer_passes_every_beat_in_order(gap, stall):
    rng = np.random.default_rng(3)
    beats = rng.integers(0, 1 << 12, 300).tolist()
    assert run_stream_unit(SkidBuffer(12), beats, len(beats), rng, gap=gap, stall=stall) == beats
