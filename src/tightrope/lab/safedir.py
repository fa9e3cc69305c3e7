"""The lab's own directories, made safely: the lab runs as root, and a directory another
user made (or a symlink planted at its name) under /var/tmp or /run would let them swap the
disks QEMU boots or the files the lab trusts."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from tightrope.errors import LabError


def check_dir(path: Path) -> None:
    """`path` is a real directory of ours that nobody else may write into, or LabError."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise LabError(f"{path} vanished while the lab was making it",
                       hint="Run the command again.") from None  # fmt: skip
    fix = f"Remove it (rm -r {path}) and run the command again."
    if stat.S_ISLNK(st.st_mode):
        raise LabError(f"{path} is a symbolic link; the lab will not follow it", hint=fix)
    if not stat.S_ISDIR(st.st_mode):
        raise LabError(f"{path} is not a directory", hint=fix)
    if st.st_uid != os.geteuid():
        raise LabError(f"{path} belongs to uid {st.st_uid}, not to the lab's user", hint=fix)
    if st.st_mode & 0o022:
        raise LabError(f"{path} is writable by others (mode {stat.S_IMODE(st.st_mode):o})",
                       hint=fix)  # fmt: skip


def make_dir(path: Path, base: Path) -> Path:
    """Make `path` (inside `base`) 0700, checking `base` and every directory on the way."""
    path.relative_to(base)  # a ValueError here is a bug, not a user's mistake
    inside = [d for d in reversed(path.parents) if base in d.parents]
    for d in [base, *inside, path]:
        with contextlib.suppress(FileExistsError):
            os.mkdir(d, 0o700)
        check_dir(d)
    return path
