"""The laptop's zipapp: built once per set of sources, reused while they are unchanged."""

from __future__ import annotations

import os
from pathlib import Path

from tightrope.remote.zipapp import _quick_key, build


def test_the_archive_is_reused_while_the_sources_are_unchanged(tmp_path: Path) -> None:
    first = build(tmp_path)
    made = first.stat().st_mtime_ns
    again = build(tmp_path)
    assert again == first and again.stat().st_mtime_ns == made
    assert len(list(tmp_path.glob("sources-*"))) == 1
    # An index naming an archive that is gone is no reason to fail: it is built again.
    first.unlink()
    assert build(tmp_path) == first and first.is_file()


def test_the_quick_key_follows_every_source_file_but_compiled_ones(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    mod = pkg / "mod.py"
    mod.write_text("x = 1\n")
    key = _quick_key([pkg])
    (pkg / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"compiled")
    (pkg / "fast.so").write_bytes(b"elf")
    assert _quick_key([pkg]) == key
    mod.write_text("x = 2\n")  # same size, new content: a new change time
    st = mod.stat()
    os.utime(mod, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert _quick_key([pkg]) != key
