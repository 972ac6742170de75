"""Where simulation, synthesis and formal runs put their files.

Every cache and work folder lives under :func:`build_root`: ``build/`` in the working
directory, or ``$ATTNHW_BUILD_DIR``; never inside the installed package.
"""

import os
import pathlib

__all__ = ["MODELS", "build_root"]

# Simulation models of ECP5 primitives (package data): MULT18X18D and DP16KD.
MODELS = pathlib.Path(__file__).resolve().parent / "models"


def build_root():
    """The folder for build caches and run outputs (created on demand by its users)."""
    return pathlib.Path(os.environ.get("ATTNHW_BUILD_DIR") or pathlib.Path.cwd() / "build")
