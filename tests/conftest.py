import os
import pathlib
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def need_icarus():
    """Skip without iverilog, except in CI (`.ci/run` sets ATTNHW_REQUIRE_ICARUS=1 and
    installs it), where a missing Icarus fails the test instead."""
    if shutil.which("iverilog") is None:
        if os.environ.get("ATTNHW_REQUIRE_ICARUS") == "1":
            pytest.fail("iverilog is not installed but ATTNHW_REQUIRE_ICARUS=1")
        pytest.skip("iverilog is not installed (apt-get install iverilog)")
