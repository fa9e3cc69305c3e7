"""Start the runner as a fork of the agent, in a systemd scope of its own.

Why a fork: a fresh runner paid for Python and the engine's imports (1.6 s under emulation,
measured on the lab box) while the box sat between the plan and the change; the agent that
planned has most of them loaded already. Why a scope: the runner must outlive the SSH
session that started it (logind may be set to kill a session's processes when it ends), so it
leaves the session's cgroup for a unit named after the change, as `systemd-run --scope` does
for itself: StartTransientUnit with its PID (busctl, so D-Bus code stays in nm/).

The runner is a grandchild (the child exits at once), so nobody has to reap it; it waits on
a pipe until the agent has seen it inside the scope, and dies with the pipe if the agent fails
first. Anything that stops this path returns False before the change has begun, and the
caller starts a fresh runner instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

SCOPE_WAIT_S = 5.0
JOURNAL_STREAM = "/run/systemd/journal/stdout"
# What a runner started by systemd-run kept of the agent's environment (launch.start_unit).
KEPT_ENV = ("PATH", "PYTHONPATH", "LANG")


def start_forked(unit: str, description: str, body: Callable[[], int], *,
                 busctl: str | None = None, proc: Path = Path("/proc")) -> bool:  # fmt: skip
    """Run body() in a forked runner inside `unit`.scope; False if that could not be set up
    (nothing of body has run then). busctl and proc: stand-ins for tests."""
    busctl = busctl or shutil.which("busctl")
    # A fork copies one thread: another thread's locks would stay held in the runner for ever.
    if busctl is None or threading.active_count() != 1:
        return False
    sys.stdout.flush()
    sys.stderr.flush()
    info_r, info_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child, exercised by the lab
        os.close(info_r)
        os.close(go_w)
        _child(info_w, go_r, body)
    os.close(info_w)
    os.close(go_r)
    try:
        os.waitpid(child, 0)
        with os.fdopen(info_r, "rb") as info:
            runner = int(info.read(32) or b"0")
        if runner <= 0:
            return False
        if not _into_scope(busctl, unit, description, runner, proc):
            os.kill(runner, signal.SIGKILL)
            return False
        os.write(go_w, b"1")
        return True
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    finally:
        os.close(go_w)  # the runner's "go" pipe: EOF ends a runner not told to go


def _into_scope(busctl: str, unit: str, description: str, pid: int, proc: Path) -> bool:
    scope = f"{unit}.scope"
    argv = [busctl, "--quiet", "--timeout=10", "call", "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
            "StartTransientUnit", "ssa(sv)a(sa(sv))", scope, "fail",
            "3", "PIDs", "au", "1", str(pid), "Description", "s", description,
            "CollectMode", "s", "inactive-or-failed", "0"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, timeout=15, check=False)
    if done.returncode != 0:
        return False
    # The call returns once the job is queued; the PID moves when it runs.
    until = time.monotonic() + SCOPE_WAIT_S
    while time.monotonic() < until:
        if in_unit(proc / str(pid) / "cgroup", scope):
            return True
        time.sleep(0.01)
    return False


def in_unit(cgroup_file: Path, unit: str) -> bool:
    try:
        text = cgroup_file.read_text()
    except OSError:
        return False
    return any(line.rsplit("/", 1)[-1] == unit for line in text.splitlines())


def _child(info_w: int, go_r: int, body: Callable[[], int]) -> None:  # pragma: no cover
    code = 70
    try:
        os.setsid()  # no signal meant for the agent's session reaches the runner
        runner = os.fork()
        if runner:
            os.write(info_w, str(runner).encode())
            os._exit(0)
        os.close(info_w)
        _detach()
        if os.read(go_r, 1) != b"1":
            os._exit(code)
        os.close(go_r)
        _to_journal()
        code = body()
    except BaseException:  # a runner ends with its own exit, never the agent's
        with contextlib.suppress(Exception):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _detach() -> None:  # pragma: no cover - in the forked runner
    """Let go of the SSH session's pipes (the laptop's ssh waits for every holder of them)
    and be what a systemd unit starts: signals at their defaults, / and umask 022."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir("/")
    os.umask(0o022)
    for key in list(os.environ):
        if key not in KEPT_ENV:
            del os.environ[key]


def _to_journal() -> None:  # pragma: no cover - in the forked runner
    """stdout and stderr to the journal as `tightrope`, as the service's were (sd-journal's
    stream protocol: identifier, unit, priority, level prefix, syslog, kmsg, console)."""
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(JOURNAL_STREAM)
        sock.shutdown(socket.SHUT_RD)
        sock.sendall(b"tightrope\n\n6\n0\n0\n0\n0\n")
    except OSError:
        return  # no journal: the state file still has every step
    os.dup2(sock.fileno(), 1)
    os.dup2(sock.fileno(), 2)
    sock.close()
