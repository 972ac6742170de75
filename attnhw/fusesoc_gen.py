"""FuseSoC generator (``attnhw.core``, generator ``attnhw_gen``): writes the core or the
engine's Verilog for the parameters of the user's core, and a ``.core`` file naming it.

FuseSoC runs ``python3 attnhw/fusesoc_gen.py <input.yml>`` in a work folder, with
``parameters`` (any attnhw parameter: ``head_dim``, ``lanes``, ``max_seq_len``,
``block``, ...; ``preset``; ``top``: core or engine; ``name``: module prefix; ``csr``:
simple or axil) and ``vlnv`` (the generated core's name). attnhw must be installed
in the Python that runs it (``pip install attnhw``).
"""

import pathlib
import sys


def main(argv):
    import yaml

    from attnhw.cli import main as cli

    spec = yaml.safe_load(pathlib.Path(argv[1]).read_text())
    params = dict(spec.get("parameters") or {})
    top, name, csr = (params.pop(k, d) for k, d in (("top", "engine"), ("name", "attnhw"),
                                                     ("csr", "simple")))
    args = ["verilog", "--top", top, "--name", name, "-o", f"{name}_{top}.v"]
    if top == "engine":
        args += ["--csr", csr]
    for key, value in params.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    if cli(args) != 0:
        return 1
    # Verilator's waivers for Amaranth's Verilog (attnhw.sim.runner.VERILATOR_WAIVERS)
    # as a configuration file, so a lint of the user's design needs no extra options.
    from attnhw.sim.runner import VERILATOR_WAIVERS
    waivers = f"{name}_waivers.vlt"
    pathlib.Path(waivers).write_text("`verilator_config\n" + "".join(
        f"lint_off -rule {rule} -file \"*{name}_{top}.v\"\n" for rule in VERILATOR_WAIVERS))
    files = [{waivers: {"file_type": "vlt"}}, {f"{name}_{top}.v": {"file_type": "verilogSource"}}]
    if top == "engine":
        files.append({f"{name}_regs.h": {"file_type": "cSource", "is_include_file": True}})
    core = {"name": spec["vlnv"], "filesets": {"rtl": {"files": files}},
            "targets": {"default": {"filesets": ["rtl"], "toplevel": f"{name}_{top}"}}}
    pathlib.Path(f"{name}_{top}.core").write_text("CAPI=2:\n" + yaml.safe_dump(core, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
