"""What the box-side application layer needs from the world, injected.

The real environment reads NetworkManager over D-Bus, keeps state under /var/lib/tightrope,
starts runners in transient systemd units, drills with ip and ping and watches D-Bus, /proc
and the kernel; tests pass stand-ins for each.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tightrope.core.snapshot import Snapshot
from tightrope.errors import NotRoot, TightropeError, UsageError
from tightrope.txn.clock import Clock, RealClock
from tightrope.txn.state import DEFAULT_ROOT, Store

if TYPE_CHECKING:  # `tightrope status` builds an environment: none of these at its start-up
    from tightrope import proto
    from tightrope.core.drill import DrillPlan, DrillResult
    from tightrope.txn.backend import Backend, System

# The newest read a forked runner may take as the box before its change (seconds).
HANDOVER_S = 2.0
# The runner is forked from the process that started the change (it keeps that process's
# imports and read of the box: 1.6-3.6 s sooner at "running" under emulation); a fresh one (a
# transient service) where the fork cannot be made. It was off from 3f24fe1 to session 15:
# in CI two runners started by `tightrope apply`/`undo` on the box hung, while every
# journey's forked runner ended well. Since then the runner opens its own D-Bus connection
# per look (no connection or asyncio inherited), every subprocess has a timeout and the
# store's lock is an O_EXCL file; the suspects' tests (trixie netplan commit and undo,
# NetworkManager restarted mid-change, the rpios life) passed twice in a row with it on, and
# a runner that seems stuck writes its stacks on SIGUSR1.
FORK_RUNNER = True
# include_secrets -> snapshot
SnapshotReader = Callable[[bool], Snapshot]
# (txn id, secrets) -> None: starts the detached runner
Launcher = Callable[[str, dict[str, str]], None]
# (plan, seconds the port stays down, probe interval in ms) -> what was measured
Driller = Callable[["DrillPlan", float, int], "DrillResult"]


class EventSource(Protocol):
    """The box's live events, from when it is started until stop()."""

    def get(self, timeout: float) -> proto.WatchEvent | None: ...

    def stop(self) -> None: ...


# starts watching
Watcher = Callable[[], EventSource]
# NetworkManager and the box's tools, as the transaction runner uses them: for finishing the
# chores a dead runner left (txn/resume.py)
Machinery = Callable[[], "tuple[Backend, System]"]


def _cannot_drill(plan: DrillPlan, seconds: float, interval_ms: int) -> DrillResult:
    # A stand-in environment that forgot the drill must not take a real port down.
    raise TightropeError("this environment cannot run a drill")


def _cannot_watch() -> EventSource:
    raise TightropeError("this environment cannot watch")


@dataclass(frozen=True)
class BoxEnv:
    store: Store
    clock: Clock
    boot_id: Callable[[], str]
    read_snapshot: SnapshotReader
    launch: Launcher
    require_root: Callable[[], None]
    is_root: Callable[[], bool] = lambda: os.geteuid() == 0
    drill: Driller = _cannot_drill
    watch: Watcher = _cannot_watch
    machinery: Machinery | None = None  # None: a dead runner's chores wait for an apply


def require_root() -> None:
    if os.geteuid() != 0:
        raise NotRoot("changing the network needs root on the box")


MAX_SNAPSHOT_BYTES = 64 << 20  # a box's whole NetworkManager state is well under a megabyte


def snapshot_file(path: str) -> Snapshot:
    try:
        with open(path, "rb") as fh:
            # A device or a FIFO (/dev/zero) would be read for ever: only a file, and bounded.
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ValueError("not a regular file")
            raw = fh.read(MAX_SNAPSHOT_BYTES + 1)
        if len(raw) > MAX_SNAPSHOT_BYTES:
            raise ValueError(f"larger than {MAX_SNAPSHOT_BYTES >> 20} MiB")
        data: Any = json.loads(raw.decode("utf-8"))
        return Snapshot.from_dict(data)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UsageError(f"cannot use snapshot {path}: {exc}",
                         hint="give a file written by `tightrope status --json` "
                         "capture tooling (tests/fixtures/snapshots)") from None  # fmt: skip


def _live_snapshot(include_secrets: bool) -> Snapshot:
    from tightrope.nm import read_snapshot

    return read_snapshot(include_secrets=include_secrets and os.geteuid() == 0)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def real_env(state_dir: str | None = None, from_snapshot: str | None = None) -> BoxEnv:
    store = Store(Path(state_dir or DEFAULT_ROOT))

    last: list[tuple[float, Snapshot]] = []  # the newest live read with secrets, and when

    def read(include_secrets: bool) -> Snapshot:
        if from_snapshot:
            return snapshot_file(from_snapshot)
        snap = _live_snapshot(include_secrets)
        if include_secrets and os.geteuid() == 0:
            last[:] = [(time.monotonic(), snap)]
        return snap

    def launch(txn_id: str, secrets: dict[str, str]) -> None:
        from tightrope.box.run import run_forked
        from tightrope.txn.fork import start_forked
        from tightrope.txn.launch import start_unit, unit_name

        # The start has just read the box to check the plan: the forked runner takes that
        # read instead of making its own (0.3 s under emulation, on the way to the change).
        before = last[0][1] if last and time.monotonic() - last[0][0] < HANDOVER_S else None
        if not FORK_RUNNER or not start_forked(
                unit_name(txn_id), f"tightrope transaction {txn_id}",
                lambda: run_forked(txn_id, store.root, secrets, before)):  # fmt: skip
            start_unit(txn_id, store.root, secrets)

    def drill(plan: DrillPlan, seconds: float, interval_ms: int) -> DrillResult:
        from tightrope.prove.drill import run_drill

        return run_drill(plan, seconds=seconds, interval_ms=interval_ms)

    def watch() -> EventSource:
        from tightrope.prove.watch import Watch

        return Watch(store.root).start()

    def machinery() -> tuple[Backend, System]:
        from tightrope.txn.nmbackend import HostSystem, NMBackend

        return NMBackend(), HostSystem()

    return BoxEnv(store=store, clock=RealClock(), boot_id=_boot_id, read_snapshot=read,
                  launch=launch, require_root=require_root, drill=drill, watch=watch,
                  machinery=None if from_snapshot else machinery)  # fmt: skip
