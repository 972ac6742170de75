"""The errors attnhw raises on purpose, so that a caller can tell them from a bug.

A :class:`AttnhwError` is something the user can act on: a bad parameter or input, a
simulator or tool that is missing or failed, a result that differs from the golden
model. The command line prints it as one line; any other exception is a bug and keeps
its traceback. Each class also derives from the built-in error it used to be, so
``except ValueError`` and ``except RuntimeError`` keep working.
"""

__all__ = ["AttnhwError", "InputError", "ToolError"]


class AttnhwError(Exception):
    """An error with a message meant for the user."""


class InputError(AttnhwError, ValueError):
    """A parameter, flag, tensor or file that attnhw cannot take; the message names it."""


class ToolError(AttnhwError, RuntimeError):
    """A simulator, Yosys or nextpnr missing or failing, or a run that does not match
    the golden model; the message says where its log is."""
