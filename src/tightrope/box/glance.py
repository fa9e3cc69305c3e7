"""What a look at the box reads besides NetworkManager: the pending change, the last one to
end, a stuck change lock. A change whose runner is gone (a reboot, a power cut, a kill) is
ended first, with the reason, so whoever looks learns how it ended.

Apart from app.py because `tightrope status` needs only this: no plan, model or protocol
classes to build at a start-up meant to be as quick as nmcli's.
"""

from __future__ import annotations

import contextlib

from tightrope.box.env import BoxEnv
from tightrope.core.status import LastTxn, PendingTxn, StatusReport, StuckLock, status_report
from tightrope.errors import Busy, TightropeError
from tightrope.txn import expiry
from tightrope.txn.state import TxnState


def finisher(env: BoxEnv, who: str) -> expiry.FinishLeft | None:
    """As root, what runs the chores a dead runner left after the point of no return, as
    `who` (the command the admin typed); None without the box's machinery or root."""
    machinery = env.machinery
    if machinery is None or not env.is_root():
        return None

    def finish(state: TxnState, how: str) -> str | None:
        from tightrope.txn.resume import Resumer  # rarely needed, and it imports the engine

        return Resumer(env.store, env.clock, machinery, who)(state, how)

    return finish


def expire_stale(env: BoxEnv, who: str) -> TxnState | None:
    return expiry.expire_stale(env.store, env.clock, env.boot_id(), finisher(env, who))


def expire(env: BoxEnv, who: str) -> dict[str, TxnState]:
    """As root, end a pending transaction whose runner is gone, with the reason; so is one
    whose runner could not record its end (returned by id: with the disk still full, they
    are not on disk yet). A stuck lock is left as it is: the caller tells it (status, log)
    or refuses on it (plan, start)."""
    if not env.is_root():
        return {}
    # A full disk must not stop anyone from reading what is recorded: the next look retries.
    finish = finisher(env, who)
    with contextlib.suppress(Busy, OSError):
        expiry.expire_stale(env.store, env.clock, env.boot_id(), finish)
    try:
        return {s.id: s for s in expiry.expire_orphans(env.store, env.clock, env.boot_id(),
                                                        finish)}  # fmt: skip
    except OSError:
        return {}


def pending(env: BoxEnv) -> PendingTxn | None:
    """The transaction not finished yet, if this user may read the state directory."""
    try:
        txn_id = env.store.pending_id()
        if txn_id is None:
            return None
        state = env.store.load(txn_id)
    except (OSError, TightropeError):
        return None
    left = state.deadline_in_s(env.clock.mono())
    remaining = int(left) if left is not None else None
    return PendingTxn(state.id, state.kind, state.phase, remaining, state.reconnect_at)


def stuck(env: BoxEnv) -> StuckLock | None:
    """The change lock, if it names a transaction nobody can read (status tells it)."""
    try:
        return expiry.stuck_lock_now(env.store)
    except OSError:
        return None


def last_change(env: BoxEnv) -> LastTxn | None:
    """The newest transaction that ended. As root, a pending one whose runner is gone is
    ended first, with the reason, so status tells it."""
    try:
        told = expire(env, "tightrope status")
        ended = [told.get(s.id, s) for s in expiry.history(env.store)]
        ended = [s for s in ended if s.finished]
    except (OSError, TightropeError):
        return None
    if not ended:
        return None
    s = ended[-1]
    outcome = s.outcome or s.phase
    return LastTxn(s.id, s.kind, outcome, s.reason, s.timings.get(outcome),
                   s.timings.get("last-seen"))  # fmt: skip


def status(env: BoxEnv) -> StatusReport:
    last = last_change(env)
    return status_report(env.read_snapshot(False), pending(env), last, stuck(env))
