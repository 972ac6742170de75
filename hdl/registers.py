"""The engine's register map, defined once.

The gateware (:class:`attnhw.hdl.axis_engine.AxisEngine`, either register port), the
C header and the documentation table (:mod:`attnhw.regs`), the JSON description
(:mod:`attnhw.hdl.emit`) and the testbenches all read this map. Registers are 32
bits wide, one per word; byte address = 4 x word address.
"""

import dataclasses

from attnhw.version import __version__

__all__ = ["Field", "Register", "REGISTERS", "BY_NAME", "ADDR_BITS", "STATUS_BITS", "ID_VALUE",
           "version_word", "field_widths", "read_only_value", "reset_value", "register_map"]

#: ``ID`` reads this constant: ASCII "ATTN".
ID_VALUE = 0x4154_544E

#: STATUS bit n is the engine's ``STATUS_BITS[n]`` flag.
STATUS_BITS = ("err_last_misplaced", "err_too_many_keys", "err_q_last_misplaced",
               "err_tile_rows", "err_load_last")


@dataclasses.dataclass(frozen=True)
class Field:
    """``width`` bits at ``lsb``; ``width=None``: the width depends on the parameters
    (:func:`field_widths`)."""
    name: str
    lsb: int
    width: int | None
    meaning: str


@dataclasses.dataclass(frozen=True)
class Register:
    name: str
    addr: int               # word address
    access: str             # "rw", "r", or "r, write clears"
    meaning: str
    fields: tuple


REGISTERS = (
    Register("SCALE", 0, "rw", "softmax scale in the core's scale port format "
             "(attnhw.golden.scale.scale_to_port); reset 0",
             (Field("SCALE", 0, None, "u(scale_width-scale_frac).scale_frac, base 2"),)),
    Register("MODE", 1, "rw", "bit 0: causal",
             (Field("CAUSAL", 0, 1, "1: key j is masked for query i when j > i + OFFSET"),)),
    Register("OFFSET", 2, "rw", "causal offset, signed, in [-max_seq_len, max_seq_len]: "
             "query i sees keys j <= i + OFFSET",
             (Field("OFFSET", 0, None, "two's complement; a write keeps its sign-extended "
                    "low bits"),)),
    Register("KEY_LIMIT", 3, "rw", "keys j >= KEY_LIMIT are masked; 0: no limit",
             (Field("KEY_LIMIT", 0, None, "unsigned"),)),
    Register("STATUS", 4, "r, write clears", "sticky error bits; any write clears them",
             (Field("ERR_KV_LAST", 0, 1, "a kv tlast not on a key's final beat (ignored)"),
              Field("ERR_TOO_MANY_KEYS", 1, 1, "a head reached max_seq_len keys without "
                    "tlast (closed there)"),
              Field("ERR_Q_LAST", 2, 1, "a q tlast not on a query's final beat (ignored)"),
              Field("ERR_TILE_ROWS", 3, 1, "output projection: a tile had more than "
                    "TILE_ROWS rows"),
              Field("ERR_LOAD_LAST", 4, 1, "output projection: a weight-load tlast not on "
                    "the final word, or missing there (the load restarts after it)"))),
    Register("SHAPE", 5, "r", "head_dim and data_width",
             (Field("HEAD_DIM", 0, 16, "d"), Field("DATA_WIDTH", 16, 16, "w"))),
    Register("MAX_SEQ_LEN", 6, "r", "keys per head",
             (Field("MAX_SEQ_LEN", 0, 32, "max_seq_len"),)),
    Register("PARALLEL", 7, "r", "lanes and block",
             (Field("LANES", 0, 16, "multipliers per dot product"),
              Field("BLOCK", 16, 16, "cores (queries computed at once)"))),
    Register("ID", 8, "r", f"identification: 0x{ID_VALUE:08X} (ASCII \"ATTN\")",
             (Field("ID", 0, 32, "constant"),)),
    Register("VERSION", 9, "r", "the attnhw version that generated the Verilog",
             (Field("PATCH", 0, 8, ""), Field("MINOR", 8, 8, ""), Field("MAJOR", 16, 8, ""))),
    Register("PROJECTION", 10, "r", "the output projection (0: none, the engine outputs "
             "attention rows)",
             (Field("OUT_FEATURES", 0, 16, "d_out"), Field("HEADS", 16, 16, "heads per query"))),
    Register("PROJ_SHAPE", 11, "r", "the output projection's parallelism and tile",
             (Field("OUT_LANES", 0, 16, "outputs computed at once (one output beat)"),
              Field("TILE_ROWS", 16, 16, "queries per tile"))),
    Register("GROUP_ROWS", 12, "rw", "grouped-query attention: the head's queries are "
             "query heads of GROUP_ROWS queries each, sharing its K/V; query i counts "
             "within its query head (causal masks and OFFSET per query head); 0: no groups",
             (Field("GROUP_ROWS", 0, None, "unsigned, at most max_seq_len"),)),
)
BY_NAME = {r.name: r for r in REGISTERS}
#: Word address bits of the register port.
ADDR_BITS = (max(r.addr for r in REGISTERS)).bit_length()


def version_word(version=None):
    """``major << 16 | minor << 8 | patch`` of an ``x.y.z`` version string."""
    if version is None:
        version = __version__
    major, minor, patch = (int(x) for x in version.split(".")[:3])
    return major << 16 | minor << 8 | patch


def field_widths(p):
    """Widths of the parameter-dependent fields (those of the engine's settings)."""
    n = p.max_seq_len
    return {"SCALE": p.scale_width, "OFFSET": n.bit_length() + 1, "KEY_LIMIT": n.bit_length(),
            "GROUP_ROWS": n.bit_length()}


def read_only_value(p, name):
    """The constant a read-only register holds for parameters ``p``."""
    proj = p.out_proj
    return {"SHAPE": p.head_dim | p.data_width << 16, "MAX_SEQ_LEN": p.max_seq_len,
            "PARALLEL": p.lanes | p.block << 16, "ID": ID_VALUE,
            "VERSION": version_word(),
            "PROJECTION": proj.d_out | proj.heads << 16 if proj else 0,
            "PROJ_SHAPE": proj.lanes | proj.tile_rows << 16 if proj else 0}[name]


def reset_value(p, name):
    """The value a register reads right after reset."""
    reg = BY_NAME[name]
    return read_only_value(p, name) if reg.access == "r" else 0


def register_map(p):
    """The map for parameters ``p`` as plain data (the JSON description, the C header):
    per register its byte address, access, reset value and fields with widths."""
    widths = field_widths(p)
    return [{"name": r.name, "word": r.addr, "byte_address": 4 * r.addr, "access": r.access,
             "reset": reset_value(p, r.name), "meaning": r.meaning,
             "fields": [{"name": f.name, "lsb": f.lsb,
                         "width": f.width if f.width is not None else widths[f.name],
                         "meaning": f.meaning} for f in r.fields]}
            for r in REGISTERS]
