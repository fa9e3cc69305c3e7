"""Files that a power cut leaves either as they were or as they were meant to be, never torn.

Every state, backup and netplan file tightrope writes goes through `write_atomic`: a reader (or
the next boot) sees the old bytes or all the new ones. The lock (the pending marker) goes
through `create_exclusive`, so a crash never leaves an empty marker that nobody can name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def write_all(fd: int, data: bytes, write: Callable[[int, memoryview], int] = os.write) -> None:
    """os.write may write fewer bytes than asked (a signal, a full disk's last blocks); a
    short write must not pass for a whole file."""
    view = memoryview(data)
    while view:
        written = write(fd, view)
        if written <= 0:
            raise OSError(f"wrote nothing of the last {len(view)} bytes")
        view = view[written:]


def fsync_dir(directory: Path) -> None:
    """A rename is durable only once the directory holding it is synced."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_with(path: Path, data: bytes, mode: int) -> Path:
    # Same directory as the target: rename is atomic only within one filesystem. A random
    # name keeps two writers (runner and `tightrope confirm`) off each other's temp file.
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")  # not secrets: hmac, 0.1 s
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what was asked for
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def _bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def write_atomic(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Temp file beside `path`, every byte written, fsync, rename over `path`, fsync the
    directory."""
    tmp = _temp_with(path, _bytes(data), mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Like write_atomic, but raises FileExistsError instead of replacing: link(2) puts the
    whole file in place or fails, where O_EXCL then write could leave it empty."""
    tmp = _temp_with(path, _bytes(data), mode)
    try:
        os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_dir(path.parent)
