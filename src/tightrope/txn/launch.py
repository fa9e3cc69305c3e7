"""Start a transaction detached from the terminal and the SSH session.

The runner lives in a transient systemd unit of its own, so a dropped session cannot stop it.
It is the agent itself, forked, moved into a scope unit (fork.py): the agent has already
paid for Python and most of the engine's imports while it planned, which a fresh runner paid
again on the path to the new address (1.6 s under emulation). Where that cannot be done,
a new Python runs as a transient service instead, and the PSK reaches it through a FIFO in
the root-only transaction folder: never in argv, in the environment (`systemctl show` prints
a unit's environment) or in a file on disk.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tightrope import APP_MARK
from tightrope.errors import TightropeError
from tightrope.txn.atomic import write_all

FIFO_NAME = "secrets.fifo"
HANDOFF_TIMEOUT_S = 30.0


def unit_name(txn_id: str) -> str:
    """The runner's unit without its type: a .scope when forked, a .service otherwise."""
    return f"tightrope-txn-{txn_id}"


def self_argv() -> list[str]:
    """How to run this very tightrope again: from its zipapp, or as an installed module."""
    import tightrope

    archive = getattr(getattr(tightrope, "__loader__", None), "archive", None)
    if archive:
        return [sys.executable, str(archive)]
    spec_origin = getattr(tightrope, "__file__", None) or ""
    if ".pyz" in spec_origin:
        return [sys.executable, spec_origin.split(".pyz", 1)[0] + ".pyz"]
    app = Path(spec_origin).parent.parent  # the compiled tree the laptop's zipapp became
    if spec_origin and (app / APP_MARK).is_file():
        return [sys.executable, str(app)]
    return [sys.executable, "-m", "tightrope"]


def start_unit(txn_id: str, root: Path, secrets: dict[str, str]) -> None:
    systemd_run = shutil.which("systemd-run")
    if systemd_run is None:
        raise TightropeError(
            "systemd-run is not available on this box",
            hint="tightrope runs the transaction as a transient systemd unit.",
        )
    fifo = root / "txn" / txn_id / FIFO_NAME
    os.mkfifo(fifo, 0o600)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG")}
    argv = [
        systemd_run,
        "--quiet",
        "--collect",
        f"--unit={unit_name(txn_id)}.service",
        "--description=tightrope transaction " + txn_id,
        "--property=SyslogIdentifier=tightrope",
        *[f"--setenv={k}={v}" for k, v in env.items()],
        "--",
        *self_argv(),
        "_txn-run",
        txn_id,
        "--root",
        str(root),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=30)
    _hand_over(fifo, json.dumps(secrets).encode())


def _hand_over(fifo: Path, payload: bytes) -> None:
    until = time.monotonic() + HANDOFF_TIMEOUT_S
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > until:
                raise TightropeError(
                    "the transaction did not start (no reader on its FIFO)",
                    hint="See `journalctl -t tightrope`.",
                ) from None
            time.sleep(0.05)
    try:
        os.set_blocking(fd, True)
        write_all(fd, payload)
    finally:
        os.close(fd)


def receive_secrets(fifo: Path, timeout_s: float = HANDOFF_TIMEOUT_S) -> dict[str, str]:
    """Runner side: read the secrets, then remove the FIFO. Times out rather than hang when
    the starting process died before writing."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    chunks: list[bytes] = []
    try:
        until = time.monotonic() + timeout_s
        writer_seen = False
        while time.monotonic() < until:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            data = os.read(fd, 65536)
            if data:
                chunks.append(data)
                writer_seen = True
            elif writer_seen:
                break  # EOF after the writer closed
            else:
                time.sleep(0.05)  # no writer yet: a FIFO reads EOF until one opens it
    finally:
        os.close(fd)
        fifo.unlink(missing_ok=True)
    if not chunks:
        raise TightropeError("no secrets arrived from the starting process")
    secrets: dict[str, str] = json.loads(b"".join(chunks))
    return secrets
