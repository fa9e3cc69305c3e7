"""The agent protocol: what the laptop asks the box and what the box answers, one JSON object
per line over the SSH channel, each side validating what it reads.

Standard library only, and importing nothing of tightrope: the Ansible collection carries a
byte-identical copy as module_utils/proto.py (scripts/build-collection copies it in; a unit
test keeps the two from drifting).

Neither side trusts the other. Every message is decoded into a frozen dataclass whose fields
are checked by type; transaction ids must match TXN_ID before they name a directory or a
command; addresses the laptop may connect to must be plain IP addresses. Secrets (PSKs) travel
only inside requests on the channel's stdin and are kept out of every repr.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import math
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

PROTOCOL = 1
MAX_LINE = 1 << 20  # a request is a few KiB; refuse to buffer a disk
TXN_ID = re.compile(r"\A[0-9]{8}-[0-9]{6}-[0-9a-f]{4}\Z")


class ProtocolError(ValueError):
    """A message that is not what the protocol allows: never acted upon."""


class Outcome(str, Enum):
    COMMITTED = "committed"
    ROLLED_BACK = "rolled-back"
    FAILED = "failed"
    ABORTED = "aborted"


def valid_txn_id(value: str) -> str:
    if not isinstance(value, str) or not TXN_ID.match(value):
        raise ProtocolError(f"{value!r} is not a transaction id (YYYYMMDD-HHMMSS-xxxx)")
    return value


def valid_address(value: str) -> str:
    """A bare IPv4 or IPv6 address, nothing that ssh could read as an option or a name."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ProtocolError(f"{value!r} is not an IP address") from None


def valid_interface(value: str) -> str:
    """The kernel's rule for an interface name (dev_valid_name): it ends up in a /proc path
    and on ping's command line."""
    ok = (isinstance(value, str) and 0 < len(value.encode("utf-8", "surrogatepass")) < 16
          and value not in (".", "..")
          and not any(c in "/:" or c.isspace() or not c.isprintable() for c in value))
    if not ok:
        raise ProtocolError(f"{value!r} is not an interface name")
    return value


def within(name: str, value: float, low: float, high: float) -> float:
    """A finite number with low < value <= high."""
    if not (math.isfinite(value) and low < value <= high):
        raise ProtocolError(f"{name} must be more than {low:g} and at most {high:g}, "
                            f"not {value}")  # fmt: skip
    return value


# -- messages --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    kind: ClassVar[str] = ""

    def check(self) -> None:
        """Field-level rules beyond types (ids, addresses); raises ProtocolError."""


# The windows a change may ask for, in seconds. Below the minimum an SSH login at the new
# address, or a Wi-Fi association, does not fit even on a fast box; above the maximum a box
# would stay on an unconfirmed network for longer than anyone watches it.
CONFIRM_TIMEOUT_S = (15, 3600)
VERIFY_TIMEOUT_S = (10, 600)


def window_problem(value: float, bounds: tuple[int, int]) -> str | None:
    """Why `value` is not a window within `bounds`, or None if it is."""
    low, high = bounds
    if math.isnan(value) or not low <= value <= high:
        return f"must be between {low} and {high} seconds (got {value})"
    return None


@dataclass(frozen=True)
class Options:
    confirm_timeout: int = 120
    verify_timeout: int = 60
    auto_confirm: bool = False
    verify_all_ports: bool = False

    def check(self) -> None:
        for flag, value, bounds in (("confirm_timeout", self.confirm_timeout, CONFIRM_TIMEOUT_S),
                                    ("verify_timeout", self.verify_timeout, VERIFY_TIMEOUT_S)):
            problem = window_problem(value, bounds)
            if problem:
                raise ProtocolError(f"{flag} {problem}")


@dataclass(frozen=True)
class Hello(Message):
    kind: ClassVar[str] = "hello"
    protocol: int = PROTOCOL
    version: str = ""


@dataclass(frozen=True)
class PlanRequest(Message):
    """Plan `config` (tightrope's YAML data, no PSK sources) with these PSKs."""

    kind: ClassVar[str] = "plan"
    config: dict[str, Any] = field(default_factory=dict)
    psk: dict[str, str] = field(default_factory=dict, repr=False)
    options: Options = Options()


@dataclass(frozen=True)
class StartRequest(Message):
    """Start the change the user agreed to; `fingerprint` names that plan exactly."""

    kind: ClassVar[str] = "start"
    config: dict[str, Any] = field(default_factory=dict)
    psk: dict[str, str] = field(default_factory=dict, repr=False)
    options: Options = Options()
    fingerprint: str = ""


@dataclass(frozen=True)
class TxnRequest(Message):
    """confirm / abort / progress / log / wait of one transaction (or, with txn None, the
    pending one; for log: the history). `wait` only watches: it answers when the transaction
    ended or `wait_s` passed, so whoever waits needs one process on the box, not a poll."""

    kind: ClassVar[str] = "txn"
    action: str = "progress"
    txn: str | None = None
    wait_s: float = 0.0  # confirm/abort/wait: how long to wait for the end, with events

    ACTIONS: ClassVar[tuple[str, ...]] = ("progress", "confirm", "abort", "log", "wait")

    def check(self) -> None:
        if self.action not in self.ACTIONS:
            raise ProtocolError(f"unknown transaction action {self.action!r}")
        if self.txn is not None:
            valid_txn_id(self.txn)
        elif self.action == "wait":
            raise ProtocolError("wait: name the transaction")
        if not 0 <= self.wait_s <= 600:
            raise ProtocolError(f"wait_s {self.wait_s} is outside 0-600")


@dataclass(frozen=True)
class UndoRequest(Message):
    kind: ClassVar[str] = "undo"
    txn: str | None = None
    options: Options = Options()

    def check(self) -> None:
        if self.txn is not None:
            valid_txn_id(self.txn)


@dataclass(frozen=True)
class StatusRequest(Message):
    kind: ClassVar[str] = "status"


@dataclass(frozen=True)
class HistoryRequest(Message):
    kind: ClassVar[str] = "history"


@dataclass(frozen=True)
class DrillRequest(Message):
    """The failover drill: take `bond`'s active port down for `seconds` (`fault` "link"), or
    drop its traffic with the link kept up ("path"), probing `target` (default: the bond's
    gateway) every `interval_ms`."""

    kind: ClassVar[str] = "drill"
    bond: str | None = None
    target: str | None = None
    seconds: float = 10.0
    interval_ms: int = 10
    fault: str = "link"

    FAULTS: ClassVar[tuple[str, ...]] = ("link", "path")

    MAX_SECONDS: ClassVar[float] = 300.0  # the port stays down that long: minutes, not hours
    MAX_INTERVAL_MS: ClassVar[int] = 1000  # sparser probes could not time a failover

    def check(self) -> None:
        if self.bond is not None:
            valid_interface(self.bond)
        if self.target is not None:
            valid_address(self.target)
        within("seconds", self.seconds, 0, self.MAX_SECONDS)
        if self.fault not in self.FAULTS:
            raise ProtocolError(f"fault {self.fault!r} is not one of {', '.join(self.FAULTS)}")
        if not 1 <= self.interval_ms <= self.MAX_INTERVAL_MS:
            raise ProtocolError(f"interval_ms {self.interval_ms} is outside 1-"
                                f"{self.MAX_INTERVAL_MS}")  # fmt: skip


@dataclass(frozen=True)
class WatchRequest(Message):
    """Tell the box's events as Events (each carrying a WatchEvent) for `seconds`, then
    answer WatchAnswer. The laptop ends it sooner by closing the session (or by saying
    anything: the box stops at the next line it is sent)."""

    kind: ClassVar[str] = "watch"
    seconds: float = 60.0

    MAX_SECONDS: ClassVar[float] = 86400.0  # a watch for longer asks again

    def check(self) -> None:
        within("seconds", self.seconds, 0, self.MAX_SECONDS)


# Answers


@dataclass(frozen=True)
class HelloAnswer(Message):
    kind: ClassVar[str] = "hello-answer"
    protocol: int = PROTOCOL
    version: str = ""
    hostname: str = ""
    python: str = ""


@dataclass(frozen=True)
class PlanAnswer(Message):
    kind: ClassVar[str] = "plan-answer"
    host: str = ""
    nm_version: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""


@dataclass(frozen=True)
class Step(Message):
    kind: ClassVar[str] = "step"
    name: str = ""
    status: str = ""
    at: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class TxnView(Message):
    """A transaction as the box reports it. `deadline_in_s` counts from when the box answered
    (the box's own clock never crosses the wire: it may be hours off)."""

    kind: ClassVar[str] = "txn-answer"
    id: str = ""
    txn_kind: str = "apply"
    phase: str = ""
    outcome: str | None = None
    reason: str = ""
    reconnect_at: str | None = None
    deadline_in_s: float | None = None
    created: float = 0.0
    steps: tuple[Step, ...] = ()
    ended: float | None = None  # the box's wall clock when it ended (or was found ended)
    # A change cut short (reboot, killed runner): the last time its runner wrote anything.
    last_seen: float | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    def check(self) -> None:
        valid_txn_id(self.id)
        if self.outcome is not None and self.outcome not in {o.value for o in Outcome}:
            raise ProtocolError(f"unknown outcome {self.outcome!r}")


@dataclass(frozen=True)
class HistoryAnswer(Message):
    kind: ClassVar[str] = "history-answer"
    txns: tuple[TxnView, ...] = ()


@dataclass(frozen=True)
class StatusAnswer(Message):
    kind: ClassVar[str] = "status-answer"
    status: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WatchEvent(Message):
    """Something the box saw, `at` its own wall clock (shown as it is, never compared with
    the laptop's)."""

    kind: ClassVar[str] = "watch-event"
    source: str = ""
    subject: str = ""
    what: str = ""
    at: float = 0.0

    SOURCES: ClassVar[tuple[str, ...]] = ("nm", "bond", "kernel", "txn")

    def check(self) -> None:
        if self.source not in self.SOURCES:
            raise ProtocolError(f"unknown event source {self.source!r}")
        within("at", self.at, 0, 1e11)


@dataclass(frozen=True)
class Event(Message):
    """Said while a request is being served (e.g. a phase change during confirm, or what a
    watch sees)."""

    kind: ClassVar[str] = "event"
    message: str = ""
    txn: TxnView | None = None
    # Added within PROTOCOL 1, so left out while unset: a peer that predates it still reads
    # every event but a watch's (which it never asks for).
    watch: WatchEvent | None = field(default=None, metadata={"omit_unset": True})

    def check(self) -> None:
        # decode checks only the outer message; what an event carries is checked as well
        if self.txn is not None:
            self.txn.check()
        if self.watch is not None:
            self.watch.check()


@dataclass(frozen=True)
class DrillAnswer(Message):
    """The drill as tightrope.core.drill.result_to_dict gives it; the laptop reads it back
    with result_from_dict (proto stands alone, so it cannot check that document here)."""

    kind: ClassVar[str] = "drill-answer"
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WatchAnswer(Message):
    """A watch ended: `seconds` passed or the laptop spoke."""

    kind: ClassVar[str] = "watch-answer"
    events: int = 0


@dataclass(frozen=True)
class ErrorAnswer(Message):
    kind: ClassVar[str] = "error"
    error: str = ""  # the error's class name
    message: str = ""
    hint: str = ""
    exit_code: int = 1
    problems: tuple[dict[str, str], ...] = ()


MESSAGES: dict[str, type[Message]] = {
    cls.kind: cls
    for cls in (Hello, PlanRequest, StartRequest, TxnRequest, UndoRequest, StatusRequest,
                HistoryRequest, DrillRequest, WatchRequest, HelloAnswer, PlanAnswer, TxnView,
                HistoryAnswer, StatusAnswer, Event, DrillAnswer, WatchAnswer, ErrorAnswer)
}


# -- encoding ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("omit_unset") and getattr(value, f.name) is None)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value


def encode(message: Message) -> bytes:
    """One line of JSON, newline-terminated."""
    doc = {"v": PROTOCOL, "type": message.kind, **_plain(message)}
    return (json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n").encode()


def decode(line: bytes | str, *expected: type[Message]) -> Message:
    """Parse and check one line; `expected` limits which messages are acceptable here."""
    if len(line) > MAX_LINE:
        raise ProtocolError(f"a message of {len(line)} bytes is too long")
    try:
        # NaN and Infinity are not JSON (encode never writes them); Python would accept them.
        doc = json.loads(line, parse_constant=_no_constant)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("a message must be a JSON object")
    if doc.get("v") != PROTOCOL:
        raise ProtocolError(f"protocol version {doc.get('v')!r}, this side speaks {PROTOCOL}")
    cls = MESSAGES.get(str(doc.get("type")))
    if cls is None:
        raise ProtocolError(f"unknown message type {doc.get('type')!r}")
    if expected and cls not in expected and cls is not ErrorAnswer:
        wanted = ", ".join(e.kind for e in expected)
        raise ProtocolError(f"expected {wanted}, got {cls.kind}")
    body = {k: v for k, v in doc.items() if k not in ("v", "type")}
    message = _build(cls, body, cls.kind)
    if not isinstance(message, Message):
        raise ProtocolError(f"{cls.kind} is not a message")
    return message


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ProtocolError(f"{where}: expected an object")
    hints = typing.get_type_hints(cls, vars(sys.modules[__name__]))
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ProtocolError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    kwargs = {name: _value(hints[name], data[name], f"{where}.{name}") for name in data}
    built = cls(**kwargs)
    check = getattr(built, "check", None)
    if check is not None:  # every part checks its own rules (Options inside a request too)
        check()
    return built


def _value(tp: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, where)
    if tp is Any:
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list")
        return tuple(_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object")
        return {_value(args[0], k, where): _value(args[1], v, f"{where}.{k}")
                for k, v in value.items()}  # fmt: skip
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (str, int, float, bool) and (type(value) is not tp):
        raise ProtocolError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
    return value
