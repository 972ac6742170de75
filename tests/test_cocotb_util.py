"""The testbenches' shared helpers: the pause generator and the output-count message
(a head's final beat without tlast is named as such, not as beats that never came)."""
import random

import numpy as np

from attnhw.sim.cocotb_util import output_count_error, pauses


def test_pauses_follow_their_probability_with_either_generator():
    for rng in (np.random.default_rng(3), random.Random(3)):
        gen = pauses(rng, 0.25)
        share = sum(next(gen) for _ in range(20000)) / 20000
        assert abs(share - 0.25) < 0.02
    assert not any(next(pauses(random.Random(1), 0.0)) for _ in range(100))


def test_output_count_names_a_missing_tlast():
    assert output_count_error(12, 12, 12) is None
    assert output_count_error(9, 8, 12) == "9 of 12 output beats came out"
    assert output_count_error(12, 8, 12) == ("all 12 output beats came out, but the last 4 "
                                             "without a closing tlast (head end)")
