"""Helpers the cocotb testbenches share."""

__all__ = ["pauses", "output_count_error"]


def pauses(rng, prob):
    """A cocotbext-axi pause generator: each cycle paused with probability ``prob``
    (``rng``: anything with ``random()``, NumPy's or Python's)."""
    while True:
        yield bool(rng.random() < prob)


def output_count_error(came_out, in_frames, expected):
    """Why an output stream's beat count is wrong, or None: ``came_out`` beats took
    their handshake, ``in_frames`` of them reached a finished frame (a beat after
    the last ``tlast`` stays in the sink's unfinished frame), ``expected`` were due."""
    if came_out < expected:
        return f"{came_out} of {expected} output beats came out"
    if in_frames < expected:
        return (f"all {expected} output beats came out, but the last "
                f"{expected - in_frames} without a closing tlast (head end)")
    return None
