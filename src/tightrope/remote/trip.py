"""What a journey (remote/journey.py) carries along: its clock, reporting and measurement,
the box as it reaches it, its outcomes and waits; and the first exchange of every session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Protocol

from tightrope import __version__, proto
from tightrope.errors import TightropeError, exit_for_outcome
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
class Trip:
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
