"""The laptop side of a change that moves the box: plan there, start it detached, follow the
box to its new address, confirm from there; or, if it never answers, wait for its own
rollback and say why it failed.

The box is reached through an injected `Reach` (SSH in production, a stand-in agent in unit
tests). The laptop decides where it connects: the new address comes from its own config (for
undo: the box's record, accepted only as an IP address), and the host key there must be the
one trusted for the old address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Protocol

from tightrope import __version__, proto
from tightrope.core.configdump import config_to_data
from tightrope.core.model import BondConfig
from tightrope.errors import Exit, TightropeError, exit_for_outcome
from tightrope.remote.session import Channel, clean

Emit = Callable[[str, str], None]  # (phase, message)
# (what is awaited, seconds until the box rolls back or the wait gives up, which of the two):
# told at every turn of a wait, for a live countdown; the "waiting" events say it every 5 s.
class Until(str, Enum):
    """What a wait's deadline is: the box rolling back by itself, or the laptop giving up."""

    ROLLBACK = "rollback in"
    GIVING_UP = "giving up in"


Tick = Callable[[str, "float | None", Until], None]


def no_tick(what: str, left_s: float | None, until: Until) -> None:
    """The default: nobody draws a live countdown."""


class Watch(Protocol):
    """The apply outage as the laptop measures it (remote.echo), from before the start."""

    def outage(self) -> float | None: ...

    def new_answered(self) -> bool: ...

    def old_answering(self) -> bool | None: ...  # None: no echo from it ever, ask SSH

    def stop(self) -> None: ...


# The new address has not answered an echo: an SSH probe now would only wait out its timeout.
NOT_YET = TightropeError("no echo from the new address yet")


def no_watch(new: str) -> Watch | None:
    """The default: the outage is not measured."""
    return None


CONFIRM_WAIT_S = 90.0
ASK_BOTH_S = 180.0
# While following the box, how often to look whether its old address is back: a change that
# cannot work rolls back as soon as verification is certain, seconds after the start, long
# before the windows end. The look is a 1 s connection attempt, so it costs following little.
OLD_RECHECK_S = 5.0
# The old address answers again: the change rolled back there, or is rolling back; the box is
# asked to tell its end as soon as it is recorded.
END_WAIT_S = 15.0
# With the outage's echo running, the journey tries SSH at the new address as soon as it
# answers an echo (measured without: the agent there started 8.6 s after the address
# answered pings, the SSH probes' timeouts and a 1 s sleep between them), and every few
# seconds regardless, for a box whose firewall drops ICMP.
ECHO_TURN_S = 0.2
SSH_WHILE_ECHO_SILENT_S = 5.0


class Outcome(str, Enum):
    COMMITTED = "committed"
    ROLLED_BACK = "rolled-back"
    FAILED = "failed"
    ABORTED = "aborted"
    NO_CHANGE = "no-change"
    DECLINED = "declined"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class JourneyResult:
    host: str
    old_address: str
    new_address: str | None
    outcome: Outcome
    reason: str = ""
    txn: str | None = None
    # old address silent -> new address answering, by echo every 20 ms from the laptop
    # (remote.echo); None where that could not be measured (a jump host, no ICMP allowed)
    outage_s: float | None = None
    seconds: float = 0.0
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d


class Reach(Protocol):
    """The box as the journey reaches it: at the address the user gave (None) or another."""

    name: str  # as the user named the box
    old: str  # the address (or name) the user gave

    def open(self, address: str | None) -> Channel: ...

    # keep: the connection stays for the session opened next (the new address, once up).
    def probe(
        self, address: str | None, timeout: int, *, keep: bool = False
    ) -> TightropeError | None: ...

    def check_can_follow(self) -> None: ...

    # Closes what is kept open for the address (its master connection), if anything.
    def forget(self, address: str | None) -> None: ...


def request_config(config: BondConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """The config as the box gets it (no laptop-local PSK sources) and the PSKs apart."""
    data = config_to_data(config)
    for spec in data["ports"].values():
        for key in ("psk-file", "psk-env"):
            spec.pop(key, None)
    return data, {p.interface: p.psk.reveal() for p in config.ports if p.psk is not None}


def reconnect_address(config: BondConfig) -> str | None:
    """Where the box will answer, from the laptop's own config; None with DHCP."""
    if config.ipv4.dhcp or not config.ipv4.addresses:
        return None
    return proto.valid_address(str(config.ipv4.addresses[0].ip))


def hello(channel: Channel) -> proto.HelloAnswer:
    """The first exchange: the box's copy must be this laptop's tightrope (it is shipped by
    content hash, so a mismatch means the cached copy is not what it claims)."""
    answer = channel.call(proto.Hello(version=__version__), proto.HelloAnswer, timeout=120)
    if answer.protocol != proto.PROTOCOL or answer.version != __version__:
        raise TightropeError(
            f"the box runs tightrope {clean(answer.version)} (protocol {answer.protocol}), "
            f"this laptop {__version__} (protocol {proto.PROTOCOL})",
            hint="Run the command again: the box's copy is refreshed by its hash.")
    return answer


@dataclass
class _Trip:
    """One journey's clock and reporting."""

    reach: Reach
    emit: Emit
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    t0: float = 0.0
    tick: Tick = no_tick
    watch: Watch | None = None

    def stop_watch(self) -> float | None:
        """Stop measuring; the outage so far (None if not measured)."""
        watch, self.watch = self.watch, None
        if watch is None:
            return None
        watch.stop()
        return watch.outage()

    def result(self, new: str | None, outcome: Outcome, reason: str = "", txn: str | None = None,
               outage: float | None = None, code: int | None = None) -> JourneyResult:  # fmt: skip
        return JourneyResult(self.reach.name, self.reach.old, new, outcome, reason, txn, outage,
                             round(self.clock() - self.t0, 1),
                             int(exit_for_outcome(outcome.value) if code is None else code))

    def from_view(self, v: proto.TxnView, new: str | None, outage: float | None,
                  note: str = "") -> JourneyResult:  # fmt: skip
        outcome = Outcome(v.outcome) if v.outcome else Outcome.UNKNOWN
        reason = clean(v.reason) + (f" ({note})" if note else "")
        return self.result(new, outcome, reason.strip(), v.id, outage)


def apply_journey(
    reach: Reach,
    config: BondConfig,
    options: proto.Options,
    *,
    consent: Callable[[proto.PlanAnswer], bool],
    emit: Emit,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick: Tick = no_tick,
    watch: Callable[[str], Watch | None] = no_watch,
) -> JourneyResult:
    trip = _Trip(reach, emit, clock, sleep, clock(), tick)
    emit("connect", f"connecting to {reach.name}")
    data, psk = request_config(config)
    new = reconnect_address(config)
    channel = reach.open(None)
    try:
        hello(channel)
        emit("plan", "reading the box's state")
        planned = channel.call(proto.PlanRequest(config=data, psk=psk, options=options),
                               proto.PlanAnswer)  # fmt: skip
        if planned.plan.get("no_change"):
            return trip.result(new, Outcome.NO_CHANGE)
        if not consent(planned):
            return trip.result(new, Outcome.DECLINED, code=int(Exit.FAILED))
        if new is not None:
            reach.check_can_follow()
            trip.watch = watch(new)  # the old address's last replies come before the start
        started = channel.call(proto.StartRequest(config=data, psk=psk, options=options,
                                                  fingerprint=planned.fingerprint),
                               proto.TxnView)  # fmt: skip
    except BaseException:
        trip.stop_watch()
        raise
    finally:
        channel.close()
    if new is None:
        return trip.result(None, Outcome.UNKNOWN, "the bond takes a DHCP address: confirm "
                           "from it with `tightrope confirm`", started.id,
                           code=int(Exit.FAILED))  # fmt: skip
    window = options.verify_timeout + options.confirm_timeout + 30
    try:
        return _follow(trip, started.id, new, window)
    finally:
        trip.stop_watch()


def undo_journey(
    reach: Reach,
    txn: str | None,
    options: proto.Options,
    *,
    emit: Emit,
    to: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick: Tick = no_tick,
) -> JourneyResult:
    """Undo a committed change from the laptop: the box goes back to its old address, and the
    journey follows it there and confirms, as for the change itself."""
    trip = _Trip(reach, emit, clock, sleep, clock(), tick)
    emit("connect", f"connecting to {reach.name}")
    channel = reach.open(None)
    try:
        hello(channel)
        reach.check_can_follow()
        started = channel.call(proto.UndoRequest(txn=txn, options=options), proto.TxnView)
    finally:
        channel.close()
    where = to or started.reconnect_at
    if where is None:
        return trip.result(None, Outcome.UNKNOWN, "the old configuration takes a DHCP address: "
                           "confirm from it with `tightrope confirm`", started.id,
                           code=int(Exit.FAILED))  # fmt: skip
    try:
        new = proto.valid_address(where)
    except proto.ProtocolError as exc:
        return trip.result(None, Outcome.UNKNOWN, f"not following the box: {exc}; it rolls "
                           "the undo back by itself", started.id, code=int(Exit.FAILED))
    window = options.verify_timeout + options.confirm_timeout + 30
    return _follow(trip, started.id, new, window)


def _follow(trip: _Trip, txn: str, new: str, window: float) -> JourneyResult:
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
            # An echo from the old address is enough to ask there; without one, an SSH probe.
            back = bool(seen) or trip.reach.probe(None, 1) is None
            ended = _ended(trip, None, txn, wait_s=END_WAIT_S) if back else None
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


def _confirm(trip: _Trip, txn: str, new: str, outage: float | None,
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


def _await_old(trip: _Trip, txn: str, new: str, deadline: float) -> JourneyResult:
    """The change is rolling back: its end is told at the old address, asked once that
    answers again (its echo; by SSH where there is none)."""
    echo, clock = trip.watch, trip.clock
    until = max(deadline, clock() + END_WAIT_S)
    asked = float("-inf")
    while clock() < until:
        seen = echo.old_answering() if echo is not None else None
        # At most once a second: an address that echoes but will not talk is not hammered.
        if clock() - asked >= 1.0 and (seen or (seen is None and
                                                trip.reach.probe(None, 1) is None)):
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


def _ask_both(trip: _Trip, txn: str, new: str, *, skip_new: bool = False,
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


def _ended(trip: _Trip, where: str | None, txn: str,
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
