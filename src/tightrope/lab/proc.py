"""Running host commands for the lab: argv lists only, failures become LabError."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tightrope.errors import LabError

_DEPS_HINT = "Run scripts/install-deps (as root) to install what the lab needs."


def run(
    argv: Sequence[str],
    *,
    input: str | bytes | None = None,
    timeout: float = 120.0,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run argv, capture text output; raise LabError (with stderr) when check and it fails."""
    data = input.decode() if isinstance(input, bytes) else input
    try:
        cp = subprocess.run(
            list(argv),
            input=data,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise LabError(
            f"{argv[0]} is not installed",
            hint=_DEPS_HINT,
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from exc
    if check and cp.returncode != 0:
        detail = (cp.stderr or cp.stdout).strip().splitlines()[-5:]
        raise LabError(f"command failed ({cp.returncode}): {' '.join(argv)}: {' / '.join(detail)}")
    return cp


def netns(ns: str, argv: Sequence[str]) -> list[str]:
    """argv prefixed so that it runs inside network namespace ns."""
    return ["ip", "netns", "exec", ns, *argv]


def start_daemon(argv: Sequence[str], log: Path, timeout: float = 60.0) -> None:
    """Start a program that daemonises itself (QEMU -daemonize, dnsmasq). Its output goes to
    a log file, not a pipe: a daemon holding our pipe open would make us wait forever."""
    with log.open("ab") as fh:
        try:
            rc = subprocess.run(
                list(argv), stdin=subprocess.DEVNULL, stdout=fh, stderr=fh,
                timeout=timeout, check=False,
            ).returncode  # fmt: skip
        except FileNotFoundError as exc:
            raise LabError(f"{argv[0]} is not installed", hint=_DEPS_HINT) from exc
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise LabError(f"could not start {argv[0]} ({rc}): {' / '.join(tail)}")


def kill_and_wait(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is still alive after timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
            if not pids:
                return
            time.sleep(0.05)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
