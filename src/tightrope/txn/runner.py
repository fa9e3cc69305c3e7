"""The detached side of `apply` and `undo`: runs one transaction to its end, whatever happens
to the SSH session that started it.

Started in a transient systemd unit (see launch.py). Progress goes to stdout, which systemd
sends to the journal under the identifier `tightrope`, and to the transaction's state file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import sys
from collections.abc import Callable
from typing import Any

from tightrope.core.configdump import config_with_secrets
from tightrope.core.model import BondConfig
from tightrope.core.plan import make_plan
from tightrope.core.snapshot import Snapshot
from tightrope.core.storage import CommitAs
from tightrope.errors import TightropeError
from tightrope.txn import control
from tightrope.txn.backend import Backend, System
from tightrope.txn.backup_step import Backup
from tightrope.txn.clock import Clock
from tightrope.txn.confirm_step import AwaitConfirm, Persist
from tightrope.txn.engine import Step, Transaction
from tightrope.txn.finish import finish
from tightrope.txn.netplan_commit import PersistNetplan
from tightrope.txn.state import StepLog, Store, TxnState
from tightrope.txn.steps import (
    Activate,
    AddProfiles,
    Checkpoint,
    Context,
    RolledBack,
)
from tightrope.txn.verify_step import Verify

Prepared = tuple[Context, list[Step], Callable[[Context], list[str]]]


def change_keys(changes: Any) -> list[list[str]]:
    return sorted(
        [c["action"], c["uuid"]] if isinstance(c, dict) else [c.action, c.uuid] for c in changes
    )


class Recorder:
    """Progress to the journal (stdout) and the state file, as one."""

    def __init__(self, store: Store, txn_id: str, clock: Clock, out: Any) -> None:
        self.store, self.txn_id, self.clock, self.out = store, txn_id, clock, out
        self.state = store.load(txn_id)

    def _append(self, name: str, status: str, detail: str, line: str) -> None:
        print(f"[{self.txn_id}] {line}", file=self.out, flush=True)
        entry = StepLog(name, status, self.clock.now(), detail)
        self.state = self.store.update(self.state, steps=(*self.state.steps, entry))

    def note(self, message: str) -> None:
        self._append("note", "info", message, message)

    def log(self, step: str, status: str, detail: str) -> None:
        self._append(step, status, detail, f"{step}: {status}" + (f" ({detail})" if detail else ""))

    def set_phase(self, phase: str, deadline: float | None) -> None:
        timings = {**self.state.timings, phase: self.clock.now()}
        self.state = self.store.update(self.state, phase=phase, deadline_boot=deadline,
                                       timings=timings)  # fmt: skip

    def failing(self, exc: BaseException) -> None:
        """Rolling back from here, and why: a watcher learns it before the rollback moves the
        box's address (the end is recorded after it)."""
        why = str(exc) if isinstance(exc, TightropeError) else ""
        timings = {**self.state.timings, "rolling-back": self.clock.now()}
        self.state = self.store.update(self.state, phase="rolling-back", deadline_boot=None,
                                       timings=timings, reason=why)  # fmt: skip

    def committed(self, unfinished: str) -> None:
        timings = {**self.state.timings, "finishing": self.clock.now()}
        self.state = self.store.update(self.state, phase="finishing", deadline_boot=None,
                                       timings=timings, unfinished=unfinished)  # fmt: skip
        self.note(f"still to do: {unfinished}")

    def end(self, outcome: str, reason: str) -> None:
        # One write: a reader polling for the end must never see the phase without the outcome.
        timings = {**self.state.timings, outcome: self.clock.now()}
        ended = dataclasses.replace(self.state, phase=outcome, deadline_boot=None,
                                    timings=timings, outcome=outcome, reason=reason,
                                    unfinished="")  # fmt: skip
        try:
            self.store.save(ended)
        except OSError as exc:
            # A full disk: the change is over all the same (rolled back or committed). Say it
            # in the journal; `status` records it later (expiry.expire_orphans).
            print(f"[{self.txn_id}] could not record the outcome ({exc.strerror or exc}): "
                  f"{outcome}" + (f" ({reason})" if reason else ""), file=self.out, flush=True)
        self.state = ended


def _context(
    rec: Recorder,
    inputs: dict[str, Any],
    config: BondConfig,
    backend: Backend,
    system: System,
    before: Snapshot | None = None,
    **extra: Any,
) -> Context:
    if before is None:
        before = backend.snapshot(include_secrets=True)
    return Context(
        txn_id=rec.txn_id, config=config, plan=make_plan(config, before), before=before,
        backend=backend, system=system, store=rec.store, clock=rec.clock, note=rec.note,
        set_phase=rec.set_phase, mark_committed=rec.committed,
        confirm_timeout_s=int(inputs.get("confirm_timeout_s", 120)),
        verify_timeout_s=int(inputs.get("verify_timeout_s", 60)),
        auto_confirm=bool(inputs.get("auto_confirm", False)),
        verify_all_ports=bool(inputs.get("verify_all_ports", False)),
        ssh_client=inputs.get("ssh_client"), **extra,
    )  # fmt: skip


def prepare_apply(
    rec: Recorder,
    inputs: dict[str, Any],
    backend: Backend,
    system: System,
    secrets: dict[str, str],
    before: Snapshot | None = None,
) -> Prepared:
    config = config_with_secrets(inputs["config"], secrets)
    ctx = _context(rec, inputs, config, backend, system, before, probe_via=config.name)
    if change_keys(ctx.plan.changes) != change_keys(inputs["changes"]):
        raise RolledBack("the box changed between the plan and the apply; nothing was "
                         "changed: run the plan again")  # fmt: skip
    netplan = ctx.plan.storage.commit_as is CommitAs.NETPLAN
    steps: list[Step] = [Backup(ctx), Checkpoint(ctx), AddProfiles(ctx), Activate(ctx),
                         Verify(ctx), AwaitConfirm(ctx),
                         PersistNetplan(ctx) if netplan else Persist(ctx)]  # fmt: skip
    return ctx, steps, finish


def run(
    txn_id: str,
    *,
    store: Store,
    backend: Backend,
    system: System,
    clock: Clock,
    secrets: dict[str, str],
    out: Any = sys.stdout,
    before: Snapshot | None = None,
) -> TxnState:
    """before: the box as the starting process read it (with secrets) just before this
    runner was forked from it; read here otherwise."""
    rec = Recorder(store, txn_id, clock, out)
    inputs = store.inputs(txn_id)
    rec.set_phase("running", None)
    rolled_back = False
    try:
        if inputs.get("kind") == "undo":
            from tightrope.txn.undo import prepare_undo

            config = config_with_secrets(inputs["config"], {})
            ctx = _context(rec, inputs, config, backend, system)
            steps, finisher = prepare_undo(ctx, inputs)
        else:
            ctx, steps, finisher = prepare_apply(rec, inputs, backend, system, secrets, before)
        try:
            Transaction(steps, rec.log, failing=rec.failing).run()
        except BaseException:
            rolled_back = True
            # Told if it can be: a failed write here must not hide why the change failed.
            with contextlib.suppress(OSError):
                if rec.state.phase != "rolling-back":
                    rec.set_phase("rolling-back", None)
            raise
        problems = finisher(ctx)
        rec.end("committed", "; ".join(problems))
    except TightropeError as exc:
        rec.end("rolled-back", str(exc))
    except Exception as exc:  # a bug must still end in a recorded, rolled-back transaction
        if rolled_back and isinstance(exc, OSError) and exc.errno in (errno.ENOSPC,
                                                                     errno.EDQUOT):
            # Measured (fault bench): the state directory filled up mid-change and the steps
            # were rolled back; say what the admin can do rather than an errno. (Full after
            # the commit point is not a rollback: that stays "failed" with the error.)
            rec.end("rolled-back", f"tightrope could not write the change's state under "
                    f"{store.root} ({exc.strerror}): it was rolled back; make room there "
                    "and apply again")  # fmt: skip
        else:
            rec.end("failed", f"{type(exc).__name__}: {exc}")
    finally:
        store.release(txn_id)
    # The change is over: notes that cannot be written (a full disk) are in the journal.
    with contextlib.suppress(OSError):
        try:
            if pruned := control.prune(store):
                rec.note(f"removed the folders of {len(pruned)} old transaction(s): "
                         + ", ".join(pruned))  # fmt: skip
        except (OSError, TightropeError) as exc:  # a full state directory never fails a change
            rec.note(f"could not remove old transactions: {exc}")
        rec.note(f"outcome: {rec.state.outcome}" + (f" ({rec.state.reason})"
                                                    if rec.state.reason else ""))  # fmt: skip
    return rec.state
