"""Tool outputs are all or nothing."""

import os

import pytest

from attnhw.outputs import atomic_write


def test_atomic_write_leaves_nothing_when_writing_fails(tmp_path):
    def fail(f):
        f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "out.txt", fail)
    assert list(tmp_path.iterdir()) == []
    atomic_write(tmp_path / "out.txt", lambda f: f.write("whole"))
    assert (tmp_path / "out.txt").read_text() == "whole"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]
    # The usual mode for a new file (umask applied), not a private temp file's 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~umask
