"""The state directory: atomic files, the lock, transaction ids, pruning."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tightrope.txn.atomic import create_exclusive, write_all, write_atomic


def test_write_all_goes_on_after_short_writes(tmp_path: Path) -> None:
    chunks: list[bytes] = []

    def stingy(fd: int, data: memoryview) -> int:
        chunks.append(bytes(data[:3]))
        return os.write(fd, data[:3])

    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        write_all(fd, b"0123456789", write=stingy)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"0123456789" and len(chunks) == 4


def test_write_all_refuses_a_write_that_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="wrote nothing"):
        write_all(0, b"x", write=lambda fd, data: 0)


def test_write_atomic_replaces_whole_with_the_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    old_umask = os.umask(0o077)
    try:
        write_atomic(path, "new", mode=0o640)
    finally:
        os.umask(old_umask)
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_create_exclusive_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "pending"
    create_exclusive(path, "first")
    with pytest.raises(FileExistsError):
        create_exclusive(path, "second")
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["pending"]
