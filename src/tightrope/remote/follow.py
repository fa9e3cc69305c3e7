"""Following a change to the box's new address: wait for it to answer, confirm there, and
when the change fails, hear its end from the old address as soon as that answers again."""

from __future__ import annotations

from tightrope import proto
from tightrope.errors import Exit, TightropeError
from tightrope.remote.session import clean
from tightrope.remote.trip import (
    ASK_BOTH_S,
    CONFIRM_WAIT_S,
    ECHO_TURN_S,
    END_WAIT_S,
    NOT_YET,
    OLD_RECHECK_S,
    SSH_WHILE_ECHO_SILENT_S,
    JourneyResult,
    Outcome,
    Trip,
    Until,
    hello,
)


def follow(trip: Trip, txn: str, new: str, window: float) -> JourneyResult:
    emit, clock = trip.emit, trip.clock
    old = trip.reach.old
    emit("started", f"transaction {txn} running on the box; following it to {new}")
    deadline = clock() + window
    old_silent, impostor, told, rechecked, tried = False, "", 0.0, 0.0, float("-inf")
    while clock() < deadline:
        echo = trip.watch
        if echo is not None and not echo.new_answered() and clock() - tried < \
                SSH_WHILE_ECHO_SILENT_S:
            why: TightropeError | None = NOT_YET
        else:
            tried = clock()
            # Kept: the confirming session reuses it (measured: a second SSH handshake at
            # the new address cost 1.7 s under TCG).
            why = trip.reach.probe(new, 3, keep=True)
        if why is None:
            # Measured; the echo goes on: the old address answering again is how a change
            # that fails while confirming is noticed (_await_old).
            outage = echo.outage() if echo is not None else None
            emit("reached", f"{new} answers after {clock() - trip.t0:.1f} s; confirming there")
            return _confirm(trip, txn, new, outage, deadline)
        if why.exit_code == Exit.HOST_KEY and not impostor:
            impostor = f"another machine answered at {new} with a different host key"
            emit("impostor", f"{impostor}: not confirming there ({why})")
        seen = echo.old_answering() if echo is not None else None
        old_answers = not old_silent and new != old and (
            seen if seen is not None else trip.reach.probe(None, 2) is None)
        if not old_silent and not old_answers:
            old_silent, rechecked = True, clock()
            # Its connection is stalled now: asked there later, it would wait for TCP's
            # retries or ssh's keepalives (seconds) before a fresh one is made.
            trip.reach.forget(None)
            emit("dropped", f"{old} went silent; waiting for {new}")
        elif old_silent and new != old and _recheck_old(seen, clock() - rechecked):
            rechecked = clock()
            ended = _ended(trip, None, txn, wait_s=END_WAIT_S) if _old_back(trip, seen) else None
            if ended is not None:
                emit("back", f"{old} answers again after {clock() - trip.t0:.1f} s: the "
                     f"change ended there")  # fmt: skip
                return trip.from_view(ended, new, None, impostor)
        trip.tick(f"waiting for {new} to answer", deadline - clock(), Until.ROLLBACK)
        if clock() - told >= 5:
            told = clock()
            emit("waiting", f"waiting for {new} to answer: {clock() - trip.t0:.0f} s so far, "
                 f"the box rolls back by itself within {deadline - clock():.0f} s")
        trip.sleep(ECHO_TURN_S if echo is not None else 1.0)
    emit("waiting", f"{new} never answered; asking {old} how the change ended")
    return _ask_both(trip, txn, new, skip_new=bool(impostor), note=impostor)


# Phases in which the box has no deadline of its own to tell yet (it sets one on waiting for
# confirmation) but still rolls back if the change fails: the laptop's bound stands in.
_BEFORE_CONFIRM = frozenset({"prepared", "running", "activating", "verifying"})


class _RollingBack(Exception):
    """The box said, while we waited at the new address, that it is rolling the change back:
    that address is about to go, and the answer will come from the old one."""

    def __init__(self, view: proto.TxnView) -> None:
        super().__init__(view.reason)
        self.view = view


def _confirm(trip: Trip, txn: str, new: str, outage: float | None,
             deadline: float) -> JourneyResult:  # fmt: skip
    def event(e: proto.Event) -> None:
        trip.emit("confirming", clean(e.message))
        if e.txn is not None and e.txn.phase == "rolling-back":
            raise _RollingBack(e.txn)
        if e.txn is not None:
            left = e.txn.deadline_in_s
            if left is None and e.txn.phase in _BEFORE_CONFIRM:
                left = deadline - trip.clock()
            trip.tick(f"confirming at {new} ({clean(e.txn.phase)})", left, Until.ROLLBACK)

    try:
        channel = trip.reach.open(new)
        try:
            hello(channel)
            v = channel.call(proto.TxnRequest(action="confirm", txn=txn, wait_s=CONFIRM_WAIT_S),
                             proto.TxnView, timeout=CONFIRM_WAIT_S + 60, on_event=event)
        except _RollingBack as going:
            channel.abandon()
            reason = clean(going.view.reason)
            trip.emit("rolling-back", "the box is rolling the change back" +
                      (f": {reason}" if reason else ""))  # fmt: skip
            return _await_old(trip, txn, new, deadline)
        finally:
            channel.close()
    except TightropeError as exc:
        if getattr(exc, "exit_code", None) == Exit.HOST_KEY:
            note = f"another machine answered at {new} with a different host key"
            trip.emit("impostor", f"{note}: not confirming there")
            return _ask_both(trip, txn, new, skip_new=True, note=note)
        trip.emit("lost", f"the session at {new} failed ({exc}); asking both addresses")
        return _ask_both(trip, txn, new)
    if v.finished:
        return trip.from_view(v, new, outage)
    return _ask_both(trip, txn, new)


def _await_old(trip: Trip, txn: str, new: str, deadline: float) -> JourneyResult:
    """The change is rolling back: its end is told at the old address, asked once that
    answers again (its echo; by SSH where there is none)."""
    echo, clock = trip.watch, trip.clock
    until = max(deadline, clock() + END_WAIT_S)
    asked = float("-inf")
    while clock() < until:
        seen = echo.old_answering() if echo is not None else None
        # At most once a second: an address that echoes but will not talk is not hammered.
        if clock() - asked >= 1.0 and _old_back(trip, seen):
            asked = clock()
            ended = _ended(trip, None, txn, wait_s=END_WAIT_S)
            if ended is not None:
                trip.emit("back", f"{trip.reach.old} answers again after "
                          f"{clock() - trip.t0:.1f} s: the change ended there")  # fmt: skip
                return trip.from_view(ended, new, None)
        trip.tick(f"waiting for {trip.reach.old} to answer again", until - clock(),
                  Until.GIVING_UP)  # fmt: skip
        trip.sleep(ECHO_TURN_S if echo is not None else 1.0)
    return _ask_both(trip, txn, new)


def _ask_both(trip: Trip, txn: str, new: str, *, skip_new: bool = False,
              note: str = "") -> JourneyResult:  # fmt: skip
    """How did it end? Ask the new address and the old one until one of them says."""
    until = trip.clock() + ASK_BOTH_S
    places: list[str | None] = ([] if skip_new else [new]) + [None]
    told = 0.0
    while trip.clock() < until:
        trip.tick(f"asking {new} and {trip.reach.old} how it ended", until - trip.clock(),
                  Until.GIVING_UP)  # fmt: skip
        for where in places:
            if trip.reach.probe(where, 3) is not None:
                continue
            v = _ended(trip, where, txn)
            if v is not None:
                return trip.from_view(v, new, None, note)
        if trip.clock() - told >= 5:
            told = trip.clock()
            trip.emit("waiting", f"asking {new} and {trip.reach.old} how transaction {txn} "
                      f"ended: up to {until - trip.clock():.0f} s more")
        trip.sleep(2.0)
    return trip.result(new, Outcome.UNKNOWN, f"neither {new} nor {trip.reach.old} answered "
                       f"for {ASK_BOTH_S:.0f} s" + (f"; {note}" if note else ""), txn,
                       code=int(Exit.NM_UNREACHABLE))  # fmt: skip


def _recheck_old(seen: bool | None, since: float) -> bool:
    """Whether to ask the old address how the change ended: at once when its echo is back
    (a change that failed rolls back there), else every OLD_RECHECK_S by SSH; never in a
    tight loop while a box that answers echoes has not ended the change yet."""
    if seen:
        return since >= 1.0
    return seen is None and since >= OLD_RECHECK_S


def _old_back(trip: Trip, seen: bool | None) -> bool:
    """Whether the old address is back: its echo says so; without any echo from it (seen
    None: a jump host, no ICMP), a 1 s SSH probe."""
    return bool(seen) or (seen is None and trip.reach.probe(None, 1) is None)


def _ended(trip: Trip, where: str | None, txn: str,
           wait_s: float = 0.0) -> proto.TxnView | None:  # fmt: skip
    """The transaction's end as the box at `where` tells it (waiting up to wait_s for it);
    None if it has not ended or the box could not be asked there."""
    request = (proto.TxnRequest(action="wait", txn=txn, wait_s=wait_s) if wait_s else
               proto.TxnRequest(action="progress", txn=txn))  # fmt: skip
    try:
        channel = trip.reach.open(where)
        try:
            hello(channel)
            v = channel.call(request, proto.TxnView, timeout=wait_s + 60)
        finally:
            channel.close()
    except TightropeError:
        return None
    return v if v.finished else None
