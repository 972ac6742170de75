"""Files the tools write: all or nothing, so a failure leaves no half-written file."""

import json
import os
import pathlib

from attnhw.golden.errors import InputError
from attnhw.hdl.emit import DEFAULT_PREFIX, generate_verilog, port_description

__all__ = ["atomic_write", "write_verilog", "replace_between"]


def atomic_write(path, write, *, binary=False):
    """Create ``path`` through ``write(file)`` on a temporary file in the same folder,
    renamed into place only once ``write`` has succeeded."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A plain exclusive create (not mkstemp) so the file gets the usual umask mode.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "xb" if binary else "x") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_verilog(p, path, top="core", prefix=DEFAULT_PREFIX):
    """Write ``path`` (Verilog of ``top``, module names starting with ``prefix``),
    ``path`` with ``.json`` (parameters, formats, port bit fields) and, for the engine,
    ``<prefix>_regs.h`` beside them (the register map). Returns the paths written
    after the Verilog."""
    path = pathlib.Path(path)
    text = generate_verilog(p, top, prefix)
    desc = port_description(p, top, prefix)
    json_path = path.with_suffix(".json")
    atomic_write(path, lambda f: f.write(text))
    atomic_write(json_path, lambda f: f.write(json.dumps(desc, indent=2) + "\n"))
    written = [json_path]
    if top.startswith("engine"):
        from .regs import c_header
        header = path.with_name(f"{prefix}_regs.h")
        atomic_write(header, lambda f: f.write(c_header(p, prefix)))
        written.append(header)
    return written


def replace_between(path, begin, end, body):
    """Replace the text between the marker lines ``begin`` and ``end`` of ``path`` with
    ``body``; ``ValueError`` if either marker is missing."""
    text = pathlib.Path(path).read_text()
    if text.count(begin) != 1 or text.count(end) != 1:
        raise InputError(f"{path}: expected one {begin!r} and one {end!r} marker")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    new = f"{head}{begin}\n{body.strip()}\n{end}{tail}"
    atomic_write(path, lambda f: f.write(new))
