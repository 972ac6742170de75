"""Named parameter sets: the configurations the Makefile synthesises and the tests
reuse, defined once (``attnhw <cmd> --preset NAME``; explicit flags override)."""

from .errors import InputError
from .params import AttnParams

__all__ = ["PRESETS", "preset", "preset_values"]

# 16-bit exp weights and scale port: the core fits an iCE40 UP5K's 8 DSPs.
_ICE40 = dict(head_dim=16, lanes=2, exp_bits=15, scale_width=16, scale_frac=22)

PRESETS = {
    # The core on an iCE40 UP5K (`make synth`).
    "ice40": dict(_ICE40, max_seq_len=256),
    # The engine on an iCE40 UP5K: the core above with K/V for 64 keys.
    "ice40-engine": dict(_ICE40, max_seq_len=64, block=1),
    # The ECP5 engine: d 64, lanes 16, K/V for 1024 keys, four cores (128 multipliers).
    # Rows leave the cores 4 lanes per beat into a 4-lane normaliser: it keeps pace
    # with heads of N >= block·(w + 2)·lanes/norm_lanes = 4·10·16/4 = 160 keys
    # (docs/engine.md, "The normaliser's pace").
    "ecp5-engine": dict(max_seq_len=1024, block=4, norm_lanes=4),
    # The fast proxy of that engine for place and route: the same cores, two of them.
    "ecp5-engine-proxy": dict(max_seq_len=1024, block=2, norm_lanes=4),
    # One ECP5 core with K/V for 256 keys.
    "ecp5-engine-small": dict(max_seq_len=256, block=1),
    # The small engine the tests simulate (one Verilator build shared by them).
    "test-engine": dict(head_dim=8, lanes=4, max_seq_len=16, block=2),
}


def preset_values(name, **overrides):
    """The parameter values of preset ``name`` with ``overrides`` (a dict, not yet
    validated); ``ValueError`` for an unknown name."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return {**PRESETS[name], **overrides}


def preset(name, **overrides):
    """``AttnParams`` of preset ``name`` with ``overrides``."""
    return AttnParams(**preset_values(name, **overrides))
