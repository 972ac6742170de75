import os
import shutil

import pytest



def need_icarus():
    """Skip without iverilog, except in CI (`.ci/run` sets ATTNHW_REQUIRE_ICARUS=1 and
    installs it), where a missing Icarus fails the test instead."""
    if shutil.which("iverilog") is None:
        if os.environ.get("ATTNHW_REQUIRE_ICARUS") == "1":
            pytest.fail("iverilog is not installed but ATTNHW_REQUIRE_ICARUS=1")
        pytest.skip("iverilog is not installed (apt-get install iverilog)")
