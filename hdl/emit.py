"""Emit the core or the engine as Verilog plus a JSON description of its ports."""

from amaranth.back import verilog

from .axis_engine import CSR_MAP, STATUS_BITS, AxisEngine
from .core import AttentionCore
from .layouts import bit_fields, kv_layout, out_layout, query_layout

__all__ = ["TOP_NAME", "TOPS", "top_name", "top_component", "generate_verilog",
           "port_description", "engine_description"]

TOP_NAME = "attnhw_core"
#: The two top levels: the streaming core, and the engine with AXI4-Stream ports.
TOPS = {"core": (TOP_NAME, AttentionCore), "engine": ("attnhw_engine", AxisEngine)}


def top_name(top):
    return TOPS[top][0]


def top_component(p, top="core"):
    if top not in TOPS:
        raise ValueError(f"unknown top {top!r}; choose one of {', '.join(TOPS)}")
    return TOPS[top][1](p)


def generate_verilog(p, top="core"):
    """Verilog text of ``top`` for ``p`` (no machine paths: ``emit_src=False``)."""
    return verilog.convert(top_component(p, top), name=top_name(top), emit_src=False)


def engine_description(p):
    """Ports, beat formats and the CSR map of the engine's Verilog top level."""
    lane = f"{p.lanes} x s{p.data_width}.0, element n at [n*{p.data_width} +: {p.data_width}]"
    return {
        "top": top_name("engine"), "params": p.as_dict(),
        "clock": "clk (rising edge), rst (synchronous, active high)",
        "multipliers": 2 * p.lanes * p.block,
        "streams": {
            "s_axis_kv": {"tdata": f"{2 * p.lanes * p.data_width} bits: k slice ({lane}) low, "
                                   "v slice high", "tuser": "key padding bit (1: masked)",
                          "tlast": "final beat of the head's final key",
                          "beats_per_key": p.slices},
            "s_axis_q": {"tdata": f"{p.lanes * p.data_width} bits: q slice ({lane})",
                         "tlast": "final beat of the head's final query",
                         "beats_per_query": p.slices},
            "m_axis_o": {"tdata": f"{p.lanes * p.data_width} bits: output slice ({lane})",
                         "tuser": "final beat of each row", "tlast": "final beat of the head"},
        },
        "csr": {f"0x{a:x}": {"name": n, "access": acc, "meaning": d}
                for a, (n, acc, d) in CSR_MAP.items()},
        "status_bits": {name: bit for bit, name in enumerate(STATUS_BITS)},
    }


def port_description(p, top="core"):
    """Parameters, derived widths, number formats and payload bit fields."""
    if top == "engine":
        return engine_description(p)
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
                     "(= float_scale * log2(e); see attnhw.golden.scale.scale_to_port)",
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
