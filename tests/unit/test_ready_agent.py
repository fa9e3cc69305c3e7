"""The agent started without a preflight (remote.ssh.ready_script), run by a real sh with a
stand-in python3 that prints what it was asked to run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tightrope.remote.ssh import NOT_READY, READY, ready_script

SHA = "ab" * 32


def _run(tmp: Path, ready: str | None) -> str:
    tree = tmp / "cache dir" / "tightrope-1234"  # a space: quoted, never split
    tree.mkdir(parents=True)
    if ready is not None:
        (tree / READY).write_text(ready)
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text('#!/bin/sh\necho "python3 $*"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    cp = subprocess.run(["sh", "-c", ready_script(str(tree), SHA)], capture_output=True,
                        text=True, env=env, timeout=30, check=True)  # fmt: skip
    return cp.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="the script starts the agent only as root")
def test_a_ready_tree_starts_the_agent_at_once(tmp_path: Path) -> None:
    assert _run(tmp_path, SHA) == f"python3 {tmp_path}/cache dir/tightrope-1234 _agent"


@pytest.mark.parametrize("ready", [None, "", "cd" * 32, SHA[:-1]])
def test_another_build_or_none_says_not_ready(tmp_path: Path, ready: str | None) -> None:
    assert _run(tmp_path, ready) == NOT_READY


def test_the_hash_cannot_break_out_of_the_script() -> None:
    script = ready_script("/var/cache/tightrope/tightrope-1234", "x'; reboot; '")
    assert "'x'\"'\"'; reboot; '\"'\"''" in script
