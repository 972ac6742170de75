"""`attnhw verilog --name PREFIX`: two configurations of the engine in one design.

A wrapper instantiates two engines of different parameters side by side, sharing the
clock and reset. With their own prefixes the three files lint clean together under
Verilator -Wall (the generated parts with the usual waivers); with the default name
for both, the module names clash and the lint fails (the control)."""

import re

import pytest

from attnhw.golden.presets import preset
from attnhw.hdl.emit import generate_verilog
from attnhw.lint import lint
from attnhw.sim.runner import VERILATOR_WAIVERS


def _ports(verilog, module):
    """``[(direction, range, name)]`` of ``module``'s ports, from its declarations."""
    body = verilog.split(f"module {module}(", 1)[1].split("endmodule", 1)[0]
    return re.findall(r"^\s*(input|output)\s+(\[[^\]]+\]\s*)?(\w+);", body, re.M)


def _wrapper(instances):
    """A top with the instances' ports as its own (``<inst>_<port>``), clk/rst shared."""
    ports, decls, insts = ["clk", "rst"], ["  input clk;", "  input rst;"], []
    for inst, (module, verilog) in instances.items():
        conns = [".clk(clk)", ".rst(rst)"]
        for direction, width, name in _ports(verilog, module):
            if name in ("clk", "rst"):
                continue
            ports.append(f"{inst}_{name}")
            decls.append(f"  {direction} {width or ''}{inst}_{name};")
            conns.append(f".{name}({inst}_{name})")
        insts.append(f"  {module} {inst} ({', '.join(conns)});")
    return ("module two_engines(" + ", ".join(ports) + ");\n" + "\n".join(decls) + "\n"
            + "\n".join(insts) + "\nendmodule\n")


@pytest.mark.parametrize("prefixes", [("acme_small", "acme_wide"), ("attnhw", "attnhw")])
def test_two_prefixed_engines_lint_together(prefixes, tmp_path):
    configs = [preset("test-engine"), preset("test-engine", head_dim=16, block=1)]
    instances, texts = {}, []
    for inst, (prefix, p) in zip(("narrow_engine", "wide_engine"), zip(prefixes, configs)):
        text = generate_verilog(p, "engine", prefix)
        instances[inst] = (f"{prefix}_engine", text)
        texts.append(text)
    waivers = "".join(f"/* verilator lint_off {w} */\n" for w in VERILATOR_WAIVERS)
    path = tmp_path / "two_engines.v"
    path.write_text("`default_nettype none\n" + _wrapper(instances) + "`default_nettype wire\n"
                    + waivers + "".join(texts))
    if prefixes[0] != prefixes[1]:
        lint(path, top="two_engines", waive=False)
    else:
        with pytest.raises(RuntimeError, match="attnhw_engine"):
            lint(path, top="two_engines", waive=False)
