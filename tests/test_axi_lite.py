"""The engine's AXI4-Lite register port and its generated descriptions.

- cocotbext-axi's AXI4-Lite master, with random pauses on every channel, reads each
  register's reset value, writes random words and single bytes and reads them back,
  checks that read-only and unmapped addresses ignore writes, that a misplaced tlast
  sets STATUS and a write clears it (``attnhw.sim.tb_engine_axil``);
- the C header compiles into a program that checks its values against the map;
- docs/engine.md's register table is the one generated from the map.
"""

import os
import pathlib
import shutil
import subprocess

import pytest

from attnhw.golden.presets import preset
from attnhw.hdl.registers import register_map
from attnhw.regs import DOC_BEGIN, DOC_END, c_header, markdown_table
from attnhw.sim.runner import run_register_port

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIM = os.environ.get("SIM", "verilator")


@pytest.mark.parametrize("seed", [1, 2])
def test_axi_lite_port_with_random_handshake_delays(seed, tmp_path):
    res = run_register_port(preset("test-engine"), seed=seed, simulator=SIM, work_dir=tmp_path,
                            log=lambda *a: None)
    assert res["errors"] == [] and res["checks"] > 80


def test_c_header_compiles_and_matches_the_map(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    p = preset("test-engine", max_seq_len=1024)
    (tmp_path / "acme_regs.h").write_text(c_header(p, "acme"))
    checks = []
    for reg in register_map(p):
        n = f"ACME_{reg['name']}"
        checks += [(f"{n}_OFFSET", reg["byte_address"]), (f"{n}_RESET", reg["reset"])]
        for f in reg["fields"]:
            fn = f"{n}_{f['name']}" if f["name"] != reg["name"] else f"{n}_VALUE"
            checks += [(f"{fn}_LSB", f["lsb"]), (f"{fn}_WIDTH", f["width"]),
                       (f"{fn}_MASK", ((1 << f["width"]) - 1) << f["lsb"])]
    checks += [(f"ACME_PARAM_{k.upper()}", v) for k, v in p.as_dict().items() if isinstance(v, int)]
    body = "\n".join(f'    if ({m} != {v}u) {{ printf("%s\\n", "{m}"); bad++; }}' for m, v in checks)
    (tmp_path / "check.c").write_text(
        '#include <stdio.h>\n#include "acme_regs.h"\n#include "acme_regs.h"  /* guarded */\n'
        f"int main(void) {{\n    int bad = 0;\n{body}\n    printf(\"%d\\n\", {len(checks)});\n"
        "    return bad;\n}\n")
    build = subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-o", str(tmp_path / "check"),
                            str(tmp_path / "check.c")], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(tmp_path / "check")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert int(run.stdout.split()[-1]) == len(checks) > 60
    assert register_map(p)[2]["fields"][0]["width"] == 12      # OFFSET: bits(1024) + 1


def test_docs_register_table_is_generated_from_the_map():
    text = (ROOT / "docs" / "engine.md").read_text()
    assert text.split(DOC_BEGIN)[1].split(DOC_END)[0].strip() == markdown_table()


def test_a_failing_testbench_raises_its_message(tmp_path):
    """The runner reads cocotb's results: a testbench whose assertion fails (here, the
    register port's reset values checked against another configuration's) raises
    TestbenchFailed with the test's name and the assertion's message, in pytest and
    out of it alike, instead of a bare SystemExit."""
    import json

    from attnhw.sim import runner

    built = preset("test-engine")
    other = preset("test-engine", max_seq_len=built.max_seq_len * 4)

    def save(path):
        path.write_text(json.dumps({"params": other.as_dict(), "seed": 1}))
    with pytest.raises(runner.TestbenchFailed, match=r"registers failed: AssertionError: \["):
        runner._run_testbench("engine_axil", built, save, SIM, False, tmp_path,
                              lambda *a: None)
