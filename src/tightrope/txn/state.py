"""The root-only state directory: one folder per transaction, and the pending marker.

    <root>/                    0700  (default /var/lib/tightrope)
      pending                  the id of the transaction that is not finished yet
      txn/<id>/                0700
        inputs.json            desired state and plan, without secrets
        before.json            the box as the runner planned from (secrets left out), so the
                               chores a dead runner left can be rebuilt (txn/resume.py)
        state.json             phase, deadline, steps, outcome (rewritten atomically)
        confirm                created by `tightrope confirm`
        abort                  created by `tightrope rollback`
        backup/                old profiles (with secrets) and netplan files, 0600

Only the newest KEEP_TRANSACTIONS folders stay (control.prune, when a transaction ends).

The root is injected so tests run in a temporary directory.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tightrope.core.ids import TXN_ID
from tightrope.core.snapshot import Snapshot
from tightrope.errors import Busy, Exit, TightropeError
from tightrope.txn.atomic import create_exclusive, write_atomic

DEFAULT_ROOT = Path("/var/lib/tightrope")
TERMINAL = ("committed", "rolled-back", "failed", "aborted")
# Backups hold old PSKs in clear text: keep the folders of the last few transactions only
# (plus whatever `undo` or a pending change still needs).
KEEP_TRANSACTIONS = 10


@dataclass(frozen=True)
class StepLog:
    name: str
    status: str  # started, done, rolled-back, rollback-failed, skipped
    at: float
    detail: str = ""


@dataclass(frozen=True)
class TxnState:
    id: str
    kind: str  # apply or undo
    phase: str  # prepared, running, activating, verifying, awaiting-confirm, committing,
    # finishing (committed: the checkpoint is gone; old profiles and netplan not yet tidied)
    created: float
    boot_id: str
    reconnect_at: str | None = None
    confirm_timeout_s: int = 120
    # When the box rolls back unless confirmed, on CLOCK_BOOTTIME of boot `boot_id` (see
    # txn.clock: the wall clock of a box without an RTC jumps).
    deadline_boot: float | None = None
    runner_pid: int | None = None
    outcome: str | None = None  # committed, rolled-back, failed, aborted
    reason: str = ""
    steps: tuple[StepLog, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    # While finishing: what was still to do, so a runner that dies then is recorded as
    # committed with the work it left (`undo` takes such a change back like any other).
    unfinished: str = ""

    @property
    def finished(self) -> bool:
        return self.phase in TERMINAL

    def deadline_in_s(self, now_boot: float) -> float | None:
        """Seconds (to 0.1, never below 0) until the box rolls back unless confirmed, at
        `now_boot` on the same clock as deadline_boot; None without a pending deadline."""
        if self.deadline_boot is None or self.finished:
            return None
        return max(0.0, round(self.deadline_boot - now_boot, 1))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TxnState:
        steps = tuple(StepLog(**s) for s in d.get("steps", ()))
        # "deadline" (wall clock) was written by tightrope before 0.1.1; a window that old
        # has long ended, so it is dropped rather than trusted.
        fields = {k: v for k, v in d.items() if k != "deadline"}
        return cls(**{**fields, "steps": steps})


class BadTxnId(TightropeError, ValueError):
    exit_code = Exit.USAGE


class StateUnreadable(TightropeError):
    """A transaction's folder or files are missing or not what tightrope wrote."""

    def __init__(self, message: str, path: Path, hint: str = "") -> None:
        super().__init__(message, hint or "`tightrope log` lists the transactions.")
        self.path = path


def valid_id(txn_id: object) -> str:
    """A transaction id names a folder: nothing else (no '..', no '/') may reach the path."""
    if not isinstance(txn_id, str) or not TXN_ID.match(txn_id):
        raise BadTxnId(f"{txn_id!r} is not a transaction id (YYYYMMDD-HHMMSS-xxxx)",
                       hint="`tightrope log` lists the transactions.")  # fmt: skip
    return txn_id


def _plain_name(name: str) -> str:
    # Flag and backup names come from code and from profile UUIDs; a dot-name would collide
    # with write_atomic's temp files.
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise ValueError(f"{name!r} is not a plain file name")
    return name


class Store:
    def __init__(self, root: Path = DEFAULT_ROOT) -> None:
        self.root = root

    def _ensure_root(self) -> None:
        for d in (self.root, self.root / "txn"):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            d.chmod(0o700)

    def txn_dir(self, txn_id: str) -> Path:
        return self.root / "txn" / valid_id(txn_id)

    def new_id(self, now: float) -> str:
        # Sortable by time; the random tail keeps two starts in the same second apart.
        import secrets  # here: hmac and OpenSSL behind it cost `status` 90 ms on a small box

        return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)

    def create(self, state: TxnState, inputs: dict[str, Any]) -> Path:
        """Make the transaction's folder and take the pending marker, or raise Busy."""
        self._ensure_root()
        # The folder is complete before the lock names it: a crash in between leaves an
        # unlocked "prepared" folder, never a lock pointing at nothing.
        d = self.txn_dir(state.id)
        d.mkdir(mode=0o700)
        (d / "backup").mkdir(mode=0o700)
        write_atomic(d / "inputs.json", json.dumps(inputs, indent=2, default=str))
        self.save(state)
        try:
            create_exclusive(self.root / "pending", state.id)
        except FileExistsError:
            import shutil

            shutil.rmtree(d, ignore_errors=True)
            raise Busy(
                f"transaction {self.pending_id()} is still pending",
                hint="Finish it first: `tightrope confirm` or `tightrope rollback`, "
                "then `tightrope status`.",
            ) from None
        return d

    def save(self, state: TxnState) -> None:
        # On one line: json's C encoder runs only without indent, and the runner saves at
        # every step and note (about 50 times a change; 11 ms each under TCG with indent).
        write_atomic(self.txn_dir(state.id) / "state.json", json.dumps(state.to_dict()))

    def load(self, txn_id: str) -> TxnState:
        path = self.txn_dir(txn_id) / "state.json"
        data = self._read_json(txn_id, path)
        try:
            return TxnState.from_dict(data)
        except (TypeError, KeyError, AttributeError, ValueError) as exc:
            raise StateUnreadable(f"{path} is not a transaction state: {exc}", path) from None

    def inputs(self, txn_id: str) -> dict[str, Any]:
        return self._read_json(txn_id, self.txn_dir(txn_id) / "inputs.json")

    def save_before(self, txn_id: str, snapshot: Snapshot) -> None:
        """The snapshot a change is planned from, with every secret left out (PSKs in profiles
        and in netplan files): the plan is rebuilt from it, the PSK comes from elsewhere."""
        data = snapshot.to_dict(with_secrets=False)
        text = json.dumps(data, indent=2, default=str)
        write_atomic(self.txn_dir(txn_id) / "before.json", text)

    def before(self, txn_id: str) -> Snapshot:
        path = self.txn_dir(txn_id) / "before.json"
        try:
            return Snapshot.from_dict(self._read_json(txn_id, path))
        except ValueError as exc:
            raise StateUnreadable(f"{path} is not a snapshot: {exc}", path) from None

    def _read_json(self, txn_id: str, path: Path) -> dict[str, Any]:
        if not path.parent.is_dir():
            raise StateUnreadable(f"there is no transaction {txn_id}", path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StateUnreadable(f"{path} cannot be read: {why}", path) from None
        if not isinstance(data, dict):
            raise StateUnreadable(f"{path} holds no JSON object", path)
        return data

    def update(self, state: TxnState, **changes: Any) -> TxnState:
        new = replace(state, **changes)
        self.save(new)
        return new

    def with_runner(self, txn_id: str, pid: int) -> TxnState:
        """The runner's pid, so that a look at the state can tell when it is gone."""
        return self.update(self.load(txn_id), runner_pid=pid)

    def pending_id(self) -> str | None:
        """None when no transaction holds the lock (or this user may not look). A marker
        that names no transaction is returned as it is: it still holds the lock."""
        try:
            return (self.root / "pending").read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None

    def release(self, txn_id: str) -> None:
        marker = self.root / "pending"
        if self.pending_id() == valid_id(txn_id):
            marker.unlink(missing_ok=True)

    def all_ids(self) -> list[str]:
        d = self.root / "txn"
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if p.is_dir() and TXN_ID.match(p.name))

    def prune(self, protect: set[str], keep: int = KEEP_TRANSACTIONS) -> list[str]:
        """Remove the oldest transactions' folders (backups included) until at most `keep`
        remain, never one in `protect`; returns the ids removed."""
        ids = self.all_ids()
        excess = len(ids) - keep
        doomed = [i for i in ids if i not in protect][: max(0, excess)]
        for txn_id in doomed:
            import shutil

            shutil.rmtree(self.txn_dir(txn_id))
        return doomed

    def flag(self, txn_id: str, name: str) -> bool:
        return (self.txn_dir(txn_id) / _plain_name(name)).exists()

    def raise_flag(self, txn_id: str, name: str) -> None:
        write_atomic(self.txn_dir(txn_id) / _plain_name(name), str(time.time()))

    def write_backup(self, txn_id: str, name: str, data: str | bytes) -> Path:
        path = self.txn_dir(txn_id) / "backup" / _plain_name(name)
        write_atomic(path, data)
        return path
