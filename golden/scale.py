"""Conversion of a float softmax scale to the ``scale`` port's fixed-point format."""

import math

from .errors import InputError

__all__ = ["scale_to_port", "port_to_scale", "LOG2E"]

LOG2E = 1.0 / math.log(2.0)


def scale_to_port(scale, p):
    """Port value for a natural-log-domain ``scale`` (``softmax(scale * q.k)``).

    The port holds ``scale * log2(e)`` in ``u(scale_width-scale_frac).scale_frac``,
    rounded to nearest: the relative error is at most ``2^-(scale_frac+1) / (scale*log2 e)``
    (returned as the second value). Raises ``ValueError`` if the scale is not finite,
    not positive, or out of the port's range.
    """
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise InputError(f"scale must be a finite positive number, got {scale!r}")
    value = scale * LOG2E * 2.0 ** p.scale_frac
    port = math.floor(value + 0.5)
    if port >= 1 << p.scale_width:
        raise InputError(f"scale={scale:g} exceeds the scale port's maximum "
                         f"{p.scale_max / LOG2E:g} (scale_width={p.scale_width}, "
                         f"scale_frac={p.scale_frac})")
    if port < 1:
        raise InputError(f"scale={scale:g} is below the scale port's resolution "
                         f"{2.0 ** -p.scale_frac / LOG2E:g} (scale_frac={p.scale_frac})")
    return port, abs(port - value) / value


def port_to_scale(port, p):
    """The natural-log-domain scale that a port value represents."""
    return port / 2.0 ** p.scale_frac / LOG2E
