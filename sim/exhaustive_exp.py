"""The exp unit's RTL on every input, at its full width: Verilator with a small C++
driver feeds all ``(n, f)`` pairs back to back (about 1.2 million at the defaults,
under a second of simulation) and the weights are compared with the golden model.
With ``exp2_weight`` monotone and within ``[0, 2^E - 1]`` over the same inputs (checked
here in NumPy), the RTL is too: together an exhaustive proof of both properties.
"""

import pathlib
import subprocess
import time

import numpy as np
from amaranth.back import verilog

from attnhw.golden.errors import ToolError
from attnhw.golden.exp2 import exp2_weight
from attnhw.hdl.exp2 import Exp2

from .paths import build_root
from .runner import VERILATOR_WAIVERS, setup_verilator

__all__ = ["check_exp_exhaustive"]

_DRIVER = r"""
#include <cstdio>
#include <cstdint>
#include "Vexp2.h"
#include "verilated.h"
// Verilator spells the double underscore of `i__valid` as `i___05Fvalid`.

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    Vexp2* top = new Vexp2;
    const uint64_t count = (uint64_t)(NMAX + 1) << FBITS;
    FILE* out = fopen(argv[1], "wb");
    auto tick = [&]() { top->clk = 0; top->eval(); top->clk = 1; top->eval(); };
    top->rst = 1; top->i___05Fvalid = 0; top->o___05Fready = 1;
    tick(); tick();
    top->rst = 0;
    uint64_t sent = 0, got = 0;
    while (got < count) {
        top->i___05Fvalid = sent < count;
        if (sent < count)   // payload {f, n}: n in the low NBITS bits
            top->i___05Fpayload = (uint32_t)((sent & ((1u << FBITS) - 1)) << NBITS | (sent >> FBITS));
        top->clk = 0; top->eval();
        bool take = top->i___05Fvalid && top->i___05Fready;
        bool give = top->o___05Fvalid;
        uint32_t e = top->o___05Fpayload & ((1u << EBITS) - 1);   // the tag above, 0
        top->clk = 1; top->eval();
        if (take) sent++;
        if (give) { fwrite(&e, 4, 1, out); got++; }
    }
    fclose(out);
    delete top;
    return 0;
}
"""


def check_exp_exhaustive(p, work_dir=None, unit=Exp2):
    """Run the exp unit (``unit``, a subclass to test the check) for ``p`` on every
    input; returns a summary dict."""
    setup_verilator()
    work = pathlib.Path(work_dir or build_root() / "exhaustive_exp")
    work.mkdir(parents=True, exist_ok=True)
    F, n_bits = p.score_frac_bits, p.exp_shift_limit.bit_length()
    # A 1-bit tag (held 0): a zero-width one would emit `[-1:0]` wires.
    (work / "exp2.v").write_text(verilog.convert(unit(p, tag_shape=1), name="exp2", emit_src=False))
    (work / "main.cpp").write_text(_DRIVER)
    start = time.monotonic()
    cmd = ["verilator", "--cc", "--exe", "--build", "-O2", "-j", "2", "--top-module", "exp2",
           "-Mdir", "obj", *[f"-Wno-{w}" for w in VERILATOR_WAIVERS],
           "-CFLAGS",
           f"-DNMAX={p.exp_shift_limit} -DFBITS={F} -DNBITS={n_bits} -DEBITS={p.exp_weight_width}",
           "exp2.v", "main.cpp"]
    build = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if build.returncode:
        (work / "build.log").write_text(build.stdout + build.stderr)
        raise ToolError(f"verilator build of the exp unit failed; see {work / 'build.log'}")
    subprocess.run([str(work / "obj" / "Vexp2"), "weights.bin"], cwd=work, check=True)
    got = np.fromfile(work / "weights.bin", dtype=np.uint32).astype(np.int64)
    k = np.arange((p.exp_shift_limit + 1) << F, dtype=np.int64)
    n, f = k >> F, k & ((1 << F) - 1)
    want = exp2_weight(n, f, p)
    # Ordered by y = f/2^F - n - 1 ascending: n descending, then f ascending.
    by_y = want.reshape(p.exp_shift_limit + 1, 1 << F)[::-1].ravel()
    summary = {
        "inputs": int(len(want)), "outputs": int(len(got)),
        "mismatches": int(np.sum(got != want)) if len(got) == len(want) else None,
        "monotone": bool(np.all(np.diff(by_y) >= 0)),
        "within_range": bool(want.min() >= 0 and want.max() <= p.exp_value_max),
        "seconds": round(time.monotonic() - start, 1),
    }
    summary["ok"] = (summary["mismatches"] == 0 and summary["monotone"]
                     and summary["within_range"])
    return summary
