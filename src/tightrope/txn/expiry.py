"""How a change whose runner is gone ended: a reboot, a kill, a full disk. Every look at the
state (status, log, the next apply) ends such a change first, with the reason, so nobody sees it
as still running; and a lock naming a change nobody can read is told, with how to free it.

Apart from control.py (starting and steering changes) because `tightrope status` needs only
this, without the plan and the model, at a start-up meant to be as quick as nmcli's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import replace

from tightrope.core.ids import TXN_ID
from tightrope.core.ownership import names_own_file
from tightrope.core.status import StuckLock
from tightrope.errors import Busy, TightropeError
from tightrope.txn.clock import Clock
from tightrope.txn.state import Store, TxnState

# Runs the chores a dead runner left after the point of no return (txn/resume.py), given
# the transaction and how its runner went; returns the record's words for what it did (None:
# nothing was left). Raises Busy while another process is finishing it.
FinishLeft = Callable[[TxnState, str], str | None]
COMMITTED = "committed (the checkpoint was destroyed)"


def expire_stale(
    store: Store, clock: Clock, boot_id: str, finish: FinishLeft | None = None
) -> TxnState | None:
    """A pending transaction whose runner is gone is over: say how it ended, free the lock.
    Committed with chores left, `finish` (as root) runs them first."""
    pending = store.pending_id()
    if pending is None:
        return None
    try:
        state = store.load(pending)
    except TightropeError as exc:
        raise stuck_lock(stuck_info(store, pending, exc)) from None
    reason = stale_reason(state, boot_id)
    if reason is None:
        return None
    # Past the point of no return NetworkManager has nothing left to roll back to; unless
    # the bond lived only in memory and a reboot took it.
    finished = state.phase == "finishing" and not lost_in_memory(state, boot_id)
    seen = last_seen(state)  # the runner's last word, not what finishing it wrote
    if finished and finish is not None:
        how = "the box rebooted" if _gone(state, boot_id) == "rebooted" else "its runner died"
        try:
            told = finish(state, how)
        except Busy:
            return None  # another process is finishing it: it records the end
        if told is not None:
            reason, state = f"{COMMITTED}; {told}", store.load(pending)
    outcome = "committed" if finished else "aborted"
    # When it ended is not known, only when its runner last wrote and when it was found over.
    timings = {**state.timings, "last-seen": seen, outcome: clock.now()}
    state = store.update(state, phase=outcome, outcome=outcome, reason=reason, timings=timings)
    store.release(pending)
    return state


def last_seen(state: TxnState) -> float:
    """The last time the transaction's runner wrote anything (the box's wall clock)."""
    times = [state.created, *(s.at for s in state.steps),
             *(t for k, t in state.timings.items() if k != "last-seen")]  # fmt: skip
    return max(times)


def stuck_lock_now(store: Store) -> StuckLock | None:
    """The lock, if it names a transaction that cannot be read (None otherwise)."""
    pending = store.pending_id()
    if pending is None:
        return None
    try:
        store.load(pending)
    except TightropeError as exc:
        return stuck_info(store, pending, exc)
    return None


def stuck_info(store: Store, pending: str, exc: TightropeError) -> StuckLock:
    """The lock names a transaction nobody can read. Freeing it could let a second change
    start while the first one's runner still holds NetworkManager, so a person decides, and
    is told exactly how."""
    from tightrope.txn.launch import unit_name  # subprocess and the rest: only for this rare tale

    marker = store.root / "pending"
    if TXN_ID.match(pending):
        runner = (f"Make sure its runner is gone: `systemctl status '{unit_name(pending)}.*'` "
                  "must show no unit (a live one ends by itself within its "
                  "windows plus 120 s: wait for it).")  # fmt: skip
        keep = (f"Keep {store.root / 'txn' / pending} for a post-mortem (its steps are also in "
                "`journalctl -t tightrope`).")  # fmt: skip
    else:
        runner = ("Make sure no runner is left: `systemctl list-units 'tightrope-txn-*'` must "
                  "list none (a live one ends by itself within its windows plus 120 s).")
        keep = f"Keep {store.root / 'txn'} for a post-mortem (`journalctl -t tightrope`)."
    return StuckLock(
        id=pending, lock=str(marker), problem=str(exc),
        recovery=(
            runner,
            "Make sure NetworkManager holds no checkpoint: `tightrope status` shows none "
            "pending (a dead run's checkpoint rolls back by itself within a minute).",
            keep,
            f"Free the lock: `sudo rm {marker}`; `tightrope status` then shows the box as it is.",
        ),
    )  # fmt: skip


def stuck_lock(info: StuckLock) -> Busy:
    return Busy(
        f"the change lock is stuck: it names transaction {info.id!r}, which cannot be read "
        f"({info.problem}); tightrope keeps the lock {info.lock} rather than guess how it "
        "ended, so no change can start until it is freed",
        hint="To recover: " + " ".join(f"{n}) {step}" for n, step in
                                       enumerate(info.recovery, 1)),
    )  # fmt: skip


# What became of a change whose runner is gone, by how far it had got and what ended it.
_GONE = {
    ("before", "rebooted"): "the box rebooted before confirmation: it booted the old "
    "configuration (new profiles lived only in memory)",
    # Found at once, but NetworkManager's rollback comes when its re-armed timer runs out: say
    # so, not that it happened (measured: the old address back 33 s after a SIGKILL).
    ("before", "died"): "tightrope's runner died before confirmation: NetworkManager rolls "
    "the checkpoint back on its own, at the latest 30 s after the runner's last re-arm (until "
    "then `tightrope status` shows the checkpoint pending)",
    # The new profiles may already be on disk beside the old ones: which set the box booted
    # is not known from here, so say so rather than guess.
    ("committing", "rebooted"): "the box rebooted while committing, after the confirmation: "
    "the new profiles may already be on disk beside the old ones, so it may have booted "
    "either; `tightrope status` shows what it runs, and `tightrope apply` again makes it whole",
    ("committing", "died"): "tightrope's runner died while committing, after the "
    "confirmation: NetworkManager rolls the checkpoint back on its own (its profiles with "
    "it) within 30 s; nothing was committed, apply again",
}


def _gone(state: TxnState, boot_id: str) -> str | None:
    """How the runner went ("rebooted", "died"), or None while it may still run."""
    if state.finished:
        return None
    if state.boot_id != boot_id:
        return "rebooted"
    if state.runner_pid is not None and not os.path.exists(f"/proc/{state.runner_pid}"):
        return "died"
    return None


def lost_in_memory(state: TxnState, boot_id: str) -> bool:
    """Committed as netplan YAML, but rebooted before tightrope's own file was written: the
    bond lived in NetworkManager's memory only, and the box booted its old configuration."""
    return (state.phase == "finishing" and state.boot_id != boot_id
            and names_own_file(state.unfinished))  # fmt: skip


def stale_reason(state: TxnState, boot_id: str) -> str | None:
    gone = _gone(state, boot_id)
    if gone is None:
        return None
    if lost_in_memory(state, boot_id):
        return (f"confirmed, but the box rebooted before the bond reached the disk (left "
                f"undone: {state.unfinished}): it booted the configuration it had before, "
                "which nothing had changed yet. Apply the same configuration again")
    if state.phase == "finishing":
        who = "the box rebooted" if gone == "rebooted" else "tightrope's runner died"
        return (f"{COMMITTED}, but {who} before it finished; "
                f"left undone: {state.unfinished or 'unknown'}. Apply the same configuration "
                "again to finish it (its plan shows what is left), or `tightrope undo` takes "
                "the change back")
    return _GONE["committing" if state.phase == "committing" else "before", gone]


def history(store: Store) -> list[TxnState]:
    out = []
    for txn_id in store.all_ids():
        try:
            out.append(store.load(txn_id))
        except TightropeError:
            continue
    return sorted(out, key=lambda s: s.created)


# A runner that could not write its end (a full disk: measured in the fault bench) still
# frees the lock on its way out, leaving a record that looks as if it were still running.
_UNRECORDED = ("tightrope's runner ended without recording how the change ended (it could not "
               "write its state: was {root} full? `journalctl -t tightrope` has its last "
               "words); ")  # fmt: skip
_UNRECORDED_END = {
    "before": "it had not been confirmed, so it was rolled back (by tightrope, or by "
    "NetworkManager's checkpoint within 30 s)",
    "committing": "it had been confirmed: if `tightrope status` shows the new bond, it was "
    "committed and `tightrope apply` again finishes the tidying; if not, NetworkManager "
    "rolled it back",
    "finishing": "it was committed (the checkpoint was destroyed); left undone: {unfinished}",
}


def expire_orphans(
    store: Store, clock: Clock, boot_id: str, finish: FinishLeft | None = None
) -> list[TxnState]:
    """Unfinished transactions that hold no lock and whose runner is gone: their end was
    never recorded. Record it, with what is known, so log and status do not show them as
    still running, and return them as ended even when the disk is still too full to record
    them. (A transaction being created has no runner yet: it is left alone.) Committed
    with chores left, `finish` runs them, holding the change lock meanwhile."""
    pending = store.pending_id()
    ended = []
    for state in history(store):
        if state.id == pending or _gone(state, boot_id) is None:
            continue
        stage = state.phase if state.phase in ("committing", "finishing") else "before"
        outcome = "committed" if stage == "finishing" else "aborted"
        reason = _UNRECORDED.format(root=store.root) + _UNRECORDED_END[stage].format(
            unfinished=state.unfinished or "unknown")
        seen = last_seen(state)
        if (stage == "finishing" and finish is not None and pending is None
                and not lost_in_memory(state, boot_id)):  # fmt: skip
            try:  # the resumer takes the change lock meanwhile: no apply may start
                told = finish(state, "its runner ended")
            except Busy:
                continue  # another process is at it
            if told is not None:
                reason = _UNRECORDED.format(root=store.root) + f"{COMMITTED}; {told}"
                state = store.load(state.id)
        timings = {**state.timings, "last-seen": seen, outcome: clock.now()}
        done = replace(state, phase=outcome, outcome=outcome, reason=reason, timings=timings)
        # Still full: told all the same (the caller shows it), recorded at a later look.
        with contextlib.suppress(OSError):
            store.save(done)
        ended.append(done)
    return ended
