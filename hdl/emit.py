"""Emit the core as Verilog plus a JSON description of its parameters and ports."""

from amaranth.back import verilog

from .core import AttentionCore
from .layouts import bit_fields, kv_layout, out_layout, query_layout

__all__ = ["TOP_NAME", "generate_verilog", "port_description"]

TOP_NAME = "attnhw_core"


def generate_verilog(p):
    """Verilog text of the core for ``p`` (no machine paths: ``emit_src=False``)."""
    return verilog.convert(AttentionCore(p), name=TOP_NAME, emit_src=False)


def port_description(p):
    """Parameters, derived widths, number formats and payload bit fields."""
    derived = {name: getattr(p, name) for name in (
        "slices", "score_width", "x_width", "max_width", "exp_weight_width",
        "sum_width", "acc_width", "shift_limit", "exp_shift_limit")}
    streams = {"q": query_layout(p), "kv": kv_layout(p), "o": out_layout(p)}
    return {
        "top": TOP_NAME,
        "params": p.as_dict(),
        "derived": derived,
        "formats": {
            "q, k, v, o": f"s{p.data_width}.0 (two's complement)",
            "scale": f"u{p.scale_width - p.scale_frac}.{p.scale_frac} "
                     "(= float_scale * log2(e); see golden.scale.scale_to_port)",
            "masked": "1: the key is excluded",
        },
        "clock": "clk (rising edge), rst (synchronous, active high)",
        "status": {
            "err_last_misplaced": "out, sticky: a kv `last` not on a key's final beat (ignored)",
            "err_too_many_keys": "out, sticky: a query reached max_seq_len keys without `last` "
                                 "and was closed there",
            "clear_errors": "in: clears both flags (as does rst)",
        },
        "ports": {
            name: {"direction": "in" if name != "o" else "out",
                   "signals": [f"{name}__payload", f"{name}__valid", f"{name}__ready"],
                   "payload_width": layout.size, "fields": bit_fields(layout)}
            for name, layout in streams.items()},
    }
