"""Finishing a committed change whose runner died before its chores were done (bug 5).

From the point of no return the change is committed, and the chores after it are recorded in
the state file and struck off one by one (txn/chores.py). A runner killed half-way leaves
that list behind, and the change would wait for the admin to apply again. Instead, the next
root command that finds the runner gone (`status`, `log`, `apply`, ...: expiry.expire_stale
and expire_orphans) runs the chores left, and records what it did.

It rebuilds them as the runner built them: the same plan, from the transaction's inputs and
the snapshot the runner planned from (before.json, secrets left out), and the PSK, which
tightrope's own netplan file needs, from NetworkManager's profile of the bond's Wi-Fi port
(it carried the bond all along). The rebuilt chores must be the very ones the record names,
or nothing is run. Each chore is idempotent, so one done just before the kill, but not yet
struck off, is done again harmlessly.

Left as they are: a box that rebooted before the bond reached the disk (expiry.lost_in_memory:
it booted its old configuration; recorded `aborted`), an undo (its chores are not struck off
one by one), and a transaction another process is finishing (a file lock in its folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tightrope.core.configdump import config_with_secrets
from tightrope.core.model import BondConfig
from tightrope.core.netplan_yaml import names_own_file
from tightrope.core.plan import make_plan
from tightrope.core.profiles import desired_profiles
from tightrope.core.snapshot import Snapshot
from tightrope.errors import Busy, TightropeError
from tightrope.txn.atomic import create_exclusive
from tightrope.txn.backend import Backend, System
from tightrope.txn.chores import Chore, todo
from tightrope.txn.clock import Clock
from tightrope.txn.finish import chores
from tightrope.txn.state import StepLog, Store, TxnState
from tightrope.txn.steps import Context

# The box's NetworkManager and tools, made only when there is something to finish.
Machinery = Callable[[], tuple[Backend, System]]
LOCK_NAME = "finishing.lock"
SECURITY = "802-11-wireless-security"


class BeingFinished(Busy):
    """Another tightrope process is finishing this transaction right now."""


class _Unclaimable(Exception):
    """The state directory cannot take the claim (full, read-only): told as before."""


@dataclass(frozen=True)
class Resumer:
    """Runs what a dead runner left, as `who` (the command, in the admin's words)."""

    store: Store
    clock: Clock
    machinery: Machinery
    who: str

    def __call__(self, state: TxnState, how: str) -> str | None:
        """The record's words for what was done after `how` ("tightrope's runner died"), or
        None when nothing was left. Raises BeingFinished if another process is at it."""
        left = left_of(state)
        if not left or state.kind != "apply":
            return None
        try:
            with _claimed(self.store, state) as fresh:
                return _finish(self, fresh, left, how)
        except _Unclaimable:
            return None  # a later look finishes it, once there is room


def left_of(state: TxnState) -> list[str]:
    text = state.unfinished.strip()
    return [] if text in ("", "nothing", "unknown") else text.split("; ")


@contextlib.contextmanager
def _claimed(store: Store, state: TxnState) -> Iterator[TxnState]:
    """The transaction, for this process alone: two `status` at once must not both finish it.
    Its runner pid becomes ours (best effort), so others see it running meanwhile. One whose
    runner could not record its end holds no change lock: it is taken meanwhile."""
    with _change_lock(store, state.id):
        try:
            fd = os.open(store.txn_dir(state.id) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise _Unclaimable from exc
        try:
            yield _exclusive(store, state, fd)
        finally:
            os.close(fd)  # frees the lock


@contextlib.contextmanager
def _change_lock(store: Store, txn_id: str) -> Iterator[None]:
    if store.pending_id() == txn_id:
        yield
        return
    try:
        create_exclusive(store.root / "pending", txn_id)
    except FileExistsError:  # another change holds it
        raise BeingFinished(f"the change lock is taken: {txn_id} waits") from None
    except OSError as exc:  # the disk still full: a later look
        raise _Unclaimable from exc
    try:
        yield
    finally:
        store.release(txn_id)


def _exclusive(store: Store, state: TxnState, fd: int) -> TxnState:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BeingFinished(f"transaction {state.id} is being finished") from None
    fresh = store.load(state.id)
    if fresh.finished or (fresh.unfinished, fresh.runner_pid) != (state.unfinished,
                                                                  state.runner_pid):
        raise BeingFinished(f"transaction {state.id} was finished meanwhile")
    with contextlib.suppress(OSError):
        fresh = store.update(fresh, runner_pid=os.getpid())
    return fresh


class _Record:
    """Notes and strike-offs in the state file, best effort: the chores come first (bug 6)."""

    def __init__(self, store: Store, clock: Clock, state: TxnState) -> None:
        self.store, self.clock, self.state = store, clock, state
        self.unrecorded = ""

    def _save(self, **changes: object) -> None:
        try:
            self.state = self.store.update(self.state, **changes)
        except OSError as exc:
            self.unrecorded = self.unrecorded or f"could not record the progress under " \
                f"{self.store.root} ({exc.strerror or exc})"  # fmt: skip

    def note(self, message: str) -> None:
        entry = StepLog("note", "info", self.clock.now(), message)
        self._save(steps=(*self.state.steps, entry))

    def left(self, unfinished: str) -> None:
        self._save(unfinished=unfinished)


def _finish(r: Resumer, state: TxnState, left: list[str], how: str) -> str:
    rec = _Record(r.store, r.clock, state)
    rec.note(f"`{r.who}` finishes what was left after {how}: {'; '.join(left)}")
    try:
        todo_now = _rebuild(r, rec, left)
    except (TightropeError, OSError, ValueError, KeyError) as exc:
        why = str(exc) or type(exc).__name__
        rec.note(f"could not finish it: {why}")
        return (f"left undone: {'; '.join(left)}; `{r.who}` could not finish it by itself "
                f"({why}). {_AGAIN}")  # fmt: skip
    done, problems = _run(todo_now, rec)
    rest = [c.what for c in todo_now[len(done) :]]
    if rec.unrecorded:
        problems.append(rec.unrecorded)
    if not problems and not rest:
        return f"finished by `{r.who}` after {how}: did {'; '.join(done)}"
    text = f"`{r.who}` went on with it after {how}: did {'; '.join(done) or 'nothing'}"
    text += f"; problems: {'; '.join(problems)}" if problems else ""
    return text + (f"; left undone: {'; '.join(rest)}. {_AGAIN}" if rest else "")


_AGAIN = ("Apply the same configuration again to finish it (its plan shows what is left), or "
          "`tightrope undo` takes the change back")  # fmt: skip


def _rebuild(r: Resumer, rec: _Record, left: list[str]) -> list[Chore]:
    """The runner's chores, rebuilt; those still left, in the runner's order."""
    inputs = r.store.inputs(rec.state.id)
    try:
        before = r.store.before(rec.state.id)
    except TightropeError:  # started by a tightrope that did not keep it
        raise TightropeError("there is no record of the box it was planned from") from None
    backend, system = r.machinery()
    psks = port_psks(inputs["config"], backend.snapshot(include_secrets=True))
    config = config_with_secrets(inputs["config"], psks)
    missing = [p.interface for p in config.wifi_ports if p.psk is None]
    if missing and names_own_file("; ".join(left)):
        raise TightropeError(f"the PSK for {', '.join(missing)} is not in NetworkManager's "
                             "profile, and tightrope's netplan file needs it")  # fmt: skip
    ctx = _context(r, rec, config, before, backend, system)
    rebuilt, problems = chores(ctx)
    names = [c.what for c in rebuilt]
    strange = [w for w in left if w not in names]
    if strange:
        raise TightropeError("the chores rebuilt differ from those recorded ("
                             + "; ".join(strange + problems) + ")")  # fmt: skip
    return [c for c in rebuilt if c.what in left]


def port_psks(config_data: dict[str, Any], live: Snapshot) -> dict[str, str]:
    """The PSK of each Wi-Fi port, from NetworkManager's profile of the bond's port (in
    memory, or rendered by netplan from tightrope's file: the same UUID either way)."""
    config = config_with_secrets(config_data, {})
    out: dict[str, str] = {}
    for want in desired_profiles(config):
        profile = live.profile(want.uuid)
        psk = profile.get(SECURITY, "psk") if profile is not None and want.interface else None
        if isinstance(psk, str) and psk and want.interface:
            out[want.interface] = psk
    return out


def _context(r: Resumer, rec: _Record, config: BondConfig, before: Snapshot, backend: Backend,
             system: System) -> Context:  # fmt: skip
    return Context(
        txn_id=rec.state.id, config=config, plan=make_plan(config, before), before=before,
        backend=backend, system=system, store=r.store, clock=r.clock, note=rec.note,
        set_phase=lambda phase, deadline: None, mark_committed=rec.left,
    )  # fmt: skip


def _run(todo_now: list[Chore], rec: _Record) -> tuple[list[str], list[str]]:
    """Each chore, struck off once done; a chore that breaks stops the rest (they are in an
    order a power cut at any moment survives: tightrope's file before the stanzas go)."""
    done: list[str] = []
    problems: list[str] = []
    for i, chore in enumerate(todo_now):
        try:
            problems += chore.run()
        except Exception as exc:
            problems.append(f"{chore.what}: {type(exc).__name__}: {exc}")
            break
        done.append(chore.what)
        rec.left(todo(todo_now[i + 1 :]))
    return done, problems
