"""A stream of NetworkManager's signals (property changes, device and activation state
changes, the daemon coming and going) for `tightrope watch` and for verifying a change.

A thread reads the signals on its own blocking connection (lean.py: no asyncio or dbus-fast,
whose imports would cost a change's runner 0.7 s on a small box), so the consumer stays
synchronous:

    with EventStream() as events:
        for event in events:          # or events.get(timeout=1.0)
            ...
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from tightrope.core.failfast import DeviceEvent
from tightrope.errors import BackendUnavailable, TightropeError
from tightrope.nm import build, lean
from tightrope.nm import constants as c
from tightrope.nm.lean import LeanBus, drive
from tightrope.nm.normalise import jsonable, unwrap

MATCH_RULES = (
    f"type='signal',sender='{c.BUS_NAME}'",
    # A NetworkManager restart destroys checkpoints without rolling back: callers must know.
    f"type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{c.BUS_NAME}'",
)


@dataclass(frozen=True)
class Event:
    path: str
    interface: str
    member: str
    values: dict[str, Any] = field(default_factory=dict)  # JSON-typed
    at: float = 0.0  # time.monotonic() when received
    device: str | None = None  # interface name, for signals from a device object


DEVICES_PATH = f"{c.NM_PATH}/Devices/"


def decode_signal(path: str, interface: str, member: str, body: list[Any]) -> Event | None:
    """Pure: one signal -> Event, or None for signals nobody here cares about."""
    args = unwrap(body)
    if member == "PropertiesChanged" and interface == c.IFACE_PROPERTIES and args:
        changed = args[1] if len(args) > 1 else {}
        return Event(path, str(args[0]), member, jsonable(changed))
    if member == "StateChanged" and interface == c.IFACE_DEVICE and len(args) == 3:
        return Event(path, interface, member, {
            "new": c.device_state_name(int(args[0])),
            "old": c.device_state_name(int(args[1])),
            "reason": c.state_reason_name(int(args[2])),
        })  # fmt: skip
    if member == "StateChanged" and interface == c.IFACE_ACTIVE and len(args) == 2:
        return Event(path, interface, member, {
            "state": c.active_state_name(int(args[0])), "reason": int(args[1]),
        })  # fmt: skip
    if member == "NameOwnerChanged" and len(args) == 3:
        return Event(path, interface, member, {"old": args[1], "new": args[2]})
    if member == "InterfacesAdded" and interface == c.IFACE_OBJECT_MANAGER and len(args) == 2:
        # The new object's properties come with the signal: a device is named from it with
        # no round trip, so even one that fails and vanishes at once is named.
        device = args[1].get(c.IFACE_DEVICE) if isinstance(args[1], dict) else None
        if not isinstance(device, dict) or not device.get("Interface"):
            return None
        return Event(str(args[0]), interface, member, {"name": str(device["Interface"])})
    if not path.startswith(c.NM_PATH):
        return None
    return Event(path, interface, member, {"args": jsonable(args)})


def device_event(event: Event) -> DeviceEvent | None:
    """Pure: a device's state change or finished Wi-Fi scan, in plain values; None for the
    rest and for signals whose device could not be named."""
    if event.device is None:
        return None
    if event.member == "StateChanged" and event.interface == c.IFACE_DEVICE:
        v = event.values
        return DeviceEvent(event.device, str(v["new"]), str(v["old"]), str(v["reason"]))
    if (
        event.member == "PropertiesChanged"
        and event.interface == c.IFACE_WIRELESS
        and "LastScan" in event.values
    ):
        return DeviceEvent(event.device, scan_done=True)
    return None


class EventStream:
    """Subscribes on entry; events queue up until read. close() (or leaving the `with`)
    stops the thread. If the bus connection drops, iteration ends with BackendUnavailable."""

    def __init__(self, bus_address: str | None = None) -> None:
        self._address = bus_address
        self._queue: queue.Queue[Event | BaseException] = queue.Queue()
        self._names: dict[str, str] = {}  # device object path -> interface name
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._bus: LeanBus | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="nm-events", daemon=True)

    def __enter__(self) -> EventStream:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise BackendUnavailable("could not subscribe to NetworkManager's signals in time")
        if self._startup_error is not None:
            raise self._startup_error

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after `timeout` seconds without one."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get()
            if event is not None:
                yield event

    def close(self) -> None:
        # The flag first: a thread that has not yet set _bus sees it before it reads.
        self._stopping = True
        bus = self._bus
        if bus is not None:
            bus.interrupt()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            bus = lean.connect(self._address)
        except BaseException as exc:  # handed over to the consumer's thread
            self._startup_error = exc
            self._ready.set()
            return
        self._bus = bus
        try:
            self._listen(bus)
        except BaseException as exc:
            if not self._ready.is_set():
                self._startup_error = exc
                self._ready.set()
            elif not self._stopping:
                self._queue.put(exc)
        finally:
            bus.close()

    def _listen(self, bus: LeanBus) -> None:
        _subscribe(bus)
        # Named after subscribing, so no device's first signal goes unnamed; signals that
        # come meanwhile wait in the connection's queue. Without the list, each is named as
        # it speaks.
        with contextlib.suppress(TightropeError):
            self._names = build.device_names(drive(bus.managed_objects()))
        self._ready.set()
        while not self._stopping:
            message, at = bus.next_signal()
            event = decode_signal(message.path or "", message.interface or "",
                                  message.member or "", message.body)  # fmt: skip
            if event is not None:
                self._deliver(bus, replace(event, at=at))

    def _deliver(self, bus: LeanBus, event: Event) -> None:
        """Signals in order, each device's named. A bond exists only while its profile is
        active: a device that fails and goes away at once is named from InterfacesAdded,
        which carries its name, before any of its own signals. DeviceAdded asks
        NetworkManager, which on a busy box may be after the device has gone (CI once missed
        a bond's duplicate-address failure so, and waited out the window)."""
        if event.member == "InterfacesAdded":
            self._names[event.path] = str(event.values["name"])  # named below, as any
        elif event.member == "DeviceAdded" and event.interface == c.IFACE:
            for path in event.values.get("args", []):
                self._name(bus, str(path))
        if event.path.startswith(DEVICES_PATH):
            event = replace(event, device=self._name(bus, event.path))
        self._queue.put(event)

    def _name(self, bus: LeanBus, path: str) -> str | None:
        if path not in self._names:
            try:
                (value,) = bus.call_now(path, c.IFACE_PROPERTIES, "Get", "ss",
                                        [c.IFACE_DEVICE, "Interface"], timeout_s=5.0)  # fmt: skip
            except TightropeError:
                return None  # gone already: its signals stay unnamed
            self._names[path] = str(unwrap(value))
        return self._names[path]


class DeviceEventStream:
    """The state changes and Wi-Fi scans of some devices (by interface name), as the
    transaction's verification reads them: drain() what came, never blocking. If the bus
    connection drops, drain() returns nothing more and `lost` says so."""

    def __init__(self, interfaces: Iterable[str], bus_address: str | None = None) -> None:
        self.wanted = frozenset(interfaces)
        self.lost: BaseException | None = None
        self._stream = EventStream(bus_address)
        self._stream.start()

    def drain(self) -> list[DeviceEvent]:
        out: list[DeviceEvent] = []
        while self.lost is None:
            try:
                event = self._stream.get(timeout=0)
            except TightropeError as exc:
                self.lost = exc
                break
            if event is None:
                break
            dev = device_event(event)
            if dev is not None and dev.interface in self.wanted:
                out.append(dev)
        return out

    def close(self) -> None:
        self._stream.close()


def _subscribe(bus: LeanBus) -> None:
    for rule in MATCH_RULES:
        try:
            bus.call_now("/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", "s",
                         [rule], destination="org.freedesktop.DBus")  # fmt: skip
        except TightropeError as exc:
            raise BackendUnavailable(f"cannot subscribe to signals: {exc}") from exc
