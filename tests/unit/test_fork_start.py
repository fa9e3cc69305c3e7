"""The runner forked from the agent (txn/fork.py), for real, with stand-ins for busctl and
/proc: a script that 'moves' the PID by writing the cgroup file the parent then reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tightrope.txn.fork import in_unit, start_forked


def _busctl(tmp: Path, proc: Path, works: bool) -> str:
    """StartTransientUnit's argv: ... NAME fail 3 PIDs au 1 PID ..."""
    script = tmp / "busctl"
    body = (f'name=$9; pid=${{15}}; mkdir -p {proc}/$pid; '
            f'echo "0::/system.slice/$name" > {proc}/$pid/cgroup; echo "$@" > {tmp}/argv'
            if works else "exit 1")  # fmt: skip
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def _wait_for(path: Path, timeout: float = 10.0) -> bool:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if path.exists() and path.read_text():
            return True
        time.sleep(0.01)
    return False


def test_the_runner_runs_detached_in_its_scope(tmp_path: Path) -> None:
    proc, marker = tmp_path / "proc", tmp_path / "ran"
    me = os.getpid()

    def body() -> int:
        # What the runner sees: not the agent's child, no session, / as its directory.
        marker.write_text(f"{os.getppid() != me} {os.getsid(0) != os.getsid(me)} {os.getcwd()}")
        return 0

    ok = start_forked("tightrope-txn-x", "tightrope transaction x", body,
                      busctl=_busctl(tmp_path, proc, works=True), proc=proc)  # fmt: skip
    assert ok
    assert _wait_for(marker)
    assert marker.read_text() == "True True /"
    argv = (tmp_path / "argv").read_text().split()
    assert argv[argv.index("StartTransientUnit") + 2:][:2] == ["tightrope-txn-x.scope", "fail"]
    assert "CollectMode" in argv


def test_a_runner_that_cannot_get_its_scope_never_runs(tmp_path: Path) -> None:
    proc, marker = tmp_path / "proc", tmp_path / "ran"

    def body() -> int:
        marker.write_text("ran")
        return 0

    assert not start_forked("tightrope-txn-x", "d", body,
                            busctl=_busctl(tmp_path, proc, works=False), proc=proc)  # fmt: skip
    assert not start_forked("tightrope-txn-x", "d", body, busctl=str(tmp_path / "missing"),
                            proc=proc)  # fmt: skip
    # Killed before its "go" (or never forked): the caller starts a fresh runner instead.
    time.sleep(0.2)
    assert not marker.exists()


def test_in_unit_reads_the_cgroup_line(tmp_path: Path) -> None:
    f = tmp_path / "cgroup"
    f.write_text("0::/system.slice/tightrope-txn-x.scope\n")
    assert in_unit(f, "tightrope-txn-x.scope")
    f.write_text("0::/user.slice/user-0.slice/session-3.scope\n")
    assert not in_unit(f, "tightrope-txn-x.scope")
    assert not in_unit(tmp_path / "gone", "tightrope-txn-x.scope")


def test_a_runner_tells_its_stacks_on_sigusr1() -> None:
    import subprocess
    import sys

    code = ("import os, signal; from tightrope.box.run import stacks_on_usr1; stacks_on_usr1(); "
            "os.kill(os.getpid(), signal.SIGUSR1); print('still running')")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "still running"
    assert "Current thread" in done.stderr and 'File "<string>"' in done.stderr
