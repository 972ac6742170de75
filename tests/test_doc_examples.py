"""The documentation's examples work. docs/engine.md's Verilog usage example compiles
against the generated engine: Verilator lints the example, as top, together with
`attnhw_engine` for the configuration the example states, so a renamed port or a
changed width fails (the example is linted strictly, only the generated part carries
the usual waivers). Every Python example runs, its own asserts included."""

import pathlib
import re

import pytest

from attnhw.lint import lint
from attnhw.golden.params import AttnParams
from attnhw.hdl.emit import generate_verilog
from attnhw.sim.runner import VERILATOR_WAIVERS

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_verilog_example_lints_against_the_engine(tmp_path):
    readme = (ROOT / "docs" / "engine.md").read_text()
    example = re.search(r"```verilog\n(.*?)```", readme, re.S).group(1)
    flags = re.search(r"attnhw verilog --top engine (.*?) -o", example).group(1).split()
    kw = {flags[i].lstrip("-").replace("-", "_"): int(flags[i + 1]) for i in range(0, len(flags), 2)}
    p = AttnParams(**kw)
    path = tmp_path / "attention_subsystem.v"
    waivers = "".join(f"/* verilator lint_off {w} */\n" for w in VERILATOR_WAIVERS)
    path.write_text("`default_nettype none\n" + example + "\n`default_nettype wire\n"
                    + waivers + generate_verilog(p, "engine"))
    lint(path, top="attention_subsystem", waive=False)


@pytest.mark.parametrize("page", ["README.md", "docs/python.md"])
def test_readme_python_examples_run(page, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)
    assert blocks
    monkeypatch.chdir(ROOT)                     # the RTL backend's build cache: ./build
    for block in blocks:
        exec(compile(block, page, "exec"), {})
