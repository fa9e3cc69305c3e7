"""The lab's directories: made 0700, and refused when planted by someone else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tightrope.errors import LabError
from tightrope.lab.safedir import make_dir


def test_made_private_and_made_again(tmp_path: Path) -> None:
    base = tmp_path / "tightrope-lab"
    run = make_dir(base / "trl-x", base)
    assert run.is_dir() and (os.stat(run).st_mode & 0o777) == 0o700
    assert make_dir(base / "trl-x", base) == run  # a second lab command attaches to it


def test_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "tightrope-lab"
    base.mkdir(mode=0o700)
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    (base / "trl-x").symlink_to(elsewhere)
    with pytest.raises(LabError, match="symbolic link"):
        make_dir(base / "trl-x", base)


def test_a_directory_others_may_write_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "tightrope-lab"
    base.mkdir()
    base.chmod(0o777)
    with pytest.raises(LabError, match="writable by others") as info:
        make_dir(base / "trl-x", base)
    assert f"rm -r {base}" in info.value.hint


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    base = tmp_path / "tightrope-lab"
    base.mkdir(mode=0o700)
    os.chown(base, 65534, 65534)
    with pytest.raises(LabError, match="belongs to uid 65534"):
        make_dir(base / "trl-x", base)
