"""The adapter's D-Bus plumbing on a private dbus-daemon (no NetworkManager on this host):
errors when the daemon is absent, the wire format of write calls against a tiny stand-in
that owns NetworkManager's bus name, and the event stream's thread.

The stand-in answers a handful of methods from a table; it is not a model of
NetworkManager's behaviour (the lab tests check that against the real daemon)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from tightrope.core.failfast import DeviceEvent
from tightrope.errors import BackendUnavailable
from tightrope.nm import CheckpointConflict, writer
from tightrope.nm import constants as c
from tightrope.nm.errors import NMError
from tightrope.nm.events import DeviceEventStream, EventStream
from tightrope.nm.lean import run_lean
from tightrope.nm.reader import read_snapshot

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/>
</policy></busconfig>
"""

Reply = tuple[str, list[Any]]
Handler = Callable[[list[Any]], Reply]


class Refuse(Exception):
    """A handler's D-Bus error: its name and text."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(name, text)
        self.name, self.text = name, text


@pytest.fixture
def bus_address(tmp_path: Path) -> Iterator[str]:
    socket = tmp_path / "bus"
    conf = tmp_path / "bus.conf"
    conf.write_text(CONFIG.format(socket=socket))
    daemon = subprocess.Popen(
        ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert daemon.stdout is not None
        daemon.stdout.readline()  # printed once it listens
        yield f"unix:path={socket}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


class StandIn:
    """Owns org.freedesktop.NetworkManager on the private bus, in a thread, and answers the
    methods in `table` ((path, interface, member) -> handler); records every call."""

    def __init__(self, address: str, table: dict[tuple[str, str, str], Handler]) -> None:
        self.address, self.table = address, table
        self.calls: list[tuple[str, str, str, str, list[Any]]] = []
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bus: MessageBus | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> StandIn:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self.stop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)

    def emit(self, path: str, interface: str, member: str, signature: str, body: list[Any]) -> None:
        msg = Message.new_signal(path, interface, member, signature, body)
        assert self.loop is not None and self.bus is not None
        bus = self.bus
        self.loop.call_soon_threadsafe(lambda: bus.send(msg))

    async def _main(self) -> None:
        self.loop, self.stop = asyncio.get_running_loop(), asyncio.Event()
        self.bus = await MessageBus(bus_address=self.address).connect()
        self.bus.add_message_handler(self._on_call)
        await self.bus.request_name(c.BUS_NAME)
        self.ready.set()
        await self.stop.wait()
        self.bus.disconnect()

    def _on_call(self, msg: Message) -> Message | None:
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        key = (msg.path or "", msg.interface or "", msg.member or "")
        self.calls.append((*key, msg.signature, list(msg.body)))
        handler = self.table.get(key)
        if handler is None:
            return Message.new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", str(key))
        try:
            signature, body = handler(list(msg.body))
        except Refuse as exc:
            return Message.new_error(msg, exc.name, exc.text)
        except LookupError as exc:
            return Message.new_error(msg, "org.freedesktop.NetworkManager.InvalidArguments",
                                     str(exc.args[0]))  # fmt: skip
        return Message.new_method_return(msg, signature, body)


DEV = f"{c.NM_PATH}/Devices/3"
CONN = f"{c.SETTINGS_PATH}/7"


def nm_table() -> dict[tuple[str, str, str], Handler]:
    checkpoints: list[str] = []

    def create(body: list[Any]) -> Reply:
        if checkpoints:
            raise LookupError(f"device 'wlan0' is already included in checkpoint {checkpoints[0]}")
        checkpoints.append(f"{c.NM_PATH}/Checkpoint/1")
        return "o", [checkpoints[0]]

    def get(body: list[Any]) -> Reply:
        assert body == [c.IFACE_DEVICE, "Interface"]
        return "v", [Variant("s", "wlan0")]

    return {
        (c.NM_PATH, c.IFACE, "GetAllDevices"): lambda body: ("ao", [[DEV]]),
        (DEV, c.IFACE_PROPERTIES, "Get"): get,
        (c.NM_PATH, c.IFACE, "CheckpointCreate"): create,
        (c.NM_PATH, c.IFACE, "CheckpointAdjustRollbackTimeout"): lambda body: ("", []),
        (c.SETTINGS_PATH, c.IFACE_SETTINGS, "AddConnection2"): lambda body: (
            "oa{sv}", [CONN, {}]
        ),
        (c.SETTINGS_PATH, c.IFACE_SETTINGS, "GetConnectionByUuid"): lambda body: ("o", [CONN]),
        (CONN, c.IFACE_CONNECTION, "Update2"): lambda body: ("a{sv}", [{}]),
    }


def test_no_networkmanager_on_the_bus(bus_address: str) -> None:
    with pytest.raises(BackendUnavailable, match="not running"):
        read_snapshot(bus_address=bus_address)


def test_no_bus_at_all(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        read_snapshot(bus_address=f"unix:path={tmp_path}/nothing")
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        read_snapshot(bus_address="nonsense:")


def test_checkpoint_calls_on_the_wire(bus_address: str) -> None:
    with StandIn(bus_address, nm_table()) as nm:
        path = writer.checkpoint_create(["wlan0"], 120, bus_address=bus_address)
        with pytest.raises(CheckpointConflict) as conflict:
            writer.checkpoint_create(["wlan0"], 120, bus_address=bus_address)
        writer.checkpoint_adjust(path, 240, bus_address=bus_address)
    assert conflict.value.existing == path
    creates = [call for call in nm.calls if call[2] == "CheckpointCreate"]
    assert creates[0][3:] == ("aouu", [[DEV], 120, c.CheckpointFlag.DELETE_NEW_CONNECTIONS])
    adjust = [call for call in nm.calls if call[2] == "CheckpointAdjustRollbackTimeout"]
    assert adjust[0][3:] == ("ou", [path, 240])


def test_checkpoints_are_read_as_one_property(bus_address: str) -> None:
    held = f"{c.NM_PATH}/Checkpoint/3"

    def get(body: list[Any]) -> Reply:
        assert body == [c.IFACE, "Checkpoints"]
        return "v", [Variant("ao", [held])]

    with StandIn(bus_address, {(c.NM_PATH, c.IFACE_PROPERTIES, "Get"): get}) as nm:
        assert writer.checkpoint_paths(bus_address=bus_address) == (held,)
    assert [call[2] for call in nm.calls] == ["Get"]


def test_profile_calls_on_the_wire(bus_address: str) -> None:
    settings: dict[str, dict[str, Any]] = {
        "connection": {"id": "bond0", "uuid": "u-1", "type": "bond"},
        "bond": {"options": {"mode": "active-backup"}},
    }
    with StandIn(bus_address, nm_table()) as nm:
        uuid = writer.add_connection(settings, to_disk=False, block_autoconnect=True,
                                     bus_address=bus_address)  # fmt: skip
        writer.update_connection("u-1", None, to_disk=True, bus_address=bus_address)
    assert uuid == "u-1"
    add = next(call for call in nm.calls if call[2] == "AddConnection2")
    sent, flags, args = add[4]
    assert add[3] == "a{sa{sv}}ua{sv}" and args == {}
    assert flags == c.AddFlag.IN_MEMORY | c.AddFlag.BLOCK_AUTOCONNECT
    assert sent["bond"]["options"] == Variant("a{ss}", {"mode": "active-backup"})
    update = next(call for call in nm.calls if call[2] == "Update2")
    assert update[4] == [{}, c.UpdateFlag.TO_DISK, {}]


def test_profiles_are_deleted_on_one_connection_past_the_gone_and_the_refused(
    bus_address: str,
) -> None:
    here, locked = f"{c.SETTINGS_PATH}/7", f"{c.SETTINGS_PATH}/8"
    paths = {"u-here": here, "u-locked": locked}

    def by_uuid(body: list[Any]) -> Reply:
        if body[0] not in paths:  # as NetworkManager answers for a UUID it has no profile of
            raise Refuse(f"{c.IFACE_SETTINGS}.InvalidConnection",
                         "No connection with the UUID was found.")  # fmt: skip
        return "o", [paths[body[0]]]

    def refuse(body: list[Any]) -> Reply:
        raise Refuse(f"{c.IFACE_SETTINGS}.PermissionDenied", "not allowed")

    table: dict[tuple[str, str, str], Handler] = {
        (c.SETTINGS_PATH, c.IFACE_SETTINGS, "GetConnectionByUuid"): by_uuid,
        (here, c.IFACE_CONNECTION, "Delete"): lambda body: ("", []),
        (locked, c.IFACE_CONNECTION, "Delete"): refuse,
    }
    with StandIn(bus_address, table) as nm:
        writer.delete_connections(["u-gone", "u-here"], bus_address=bus_address)  # gone: fine
        with pytest.raises(NMError, match="not allowed"):  # the first refusal, after them all
            writer.delete_connections(["u-locked", "u-gone", "u-here"], bus_address=bus_address)
    assert [call[0] for call in nm.calls if call[2] == "Delete"] == [here, locked, here]


def test_event_stream_delivers_signals_in_order(bus_address: str) -> None:
    with StandIn(bus_address, {}) as nm, EventStream(bus_address) as events:
        nm.emit(DEV, c.IFACE_DEVICE, "StateChanged", "uuu", [70, 50, 0])
        nm.emit(DEV, c.IFACE_DEVICE, "StateChanged", "uuu", [100, 90, 0])
        first, second = events.get(timeout=5), events.get(timeout=5)
        assert events.get(timeout=0.2) is None
    assert first is not None and second is not None
    assert (first.path, first.values["new"], second.values["new"]) == (
        DEV, "ip-config", "activated",
    )  # fmt: skip
    assert first.at <= second.at


def test_device_events_are_named_even_for_a_device_gone_at_once(bus_address: str) -> None:
    """The bond appears with its activation and may fail and vanish within a second: it is
    named when DeviceAdded announces it, not when its last signal is read."""
    bond = f"{c.NM_PATH}/Devices/9"
    names = {DEV: "wlan0", bond: "bond0"}
    gone: set[str] = set()

    def getter(path: str) -> Handler:
        def get(body: list[Any]) -> Reply:
            if path in gone:
                raise LookupError("no such object")
            assert body == [c.IFACE_DEVICE, "Interface"]
            return "v", [Variant("s", names[path])]

        return get

    table = {(p, c.IFACE_PROPERTIES, "Get"): getter(p) for p in names}
    with StandIn(bus_address, table) as nm:
        stream = DeviceEventStream(["wlan0", "bond0"], bus_address=bus_address)
        try:
            nm.emit(c.NM_PATH, c.IFACE, "DeviceAdded", "o", [bond])
            for _ in range(50):
                if any(call[0] == bond for call in nm.calls):
                    break
                time.sleep(0.1)
            gone.add(bond)  # from now on NetworkManager no longer knows it
            nm.emit(DEV, c.IFACE_DEVICE, "StateChanged", "uuu", [60, 50, 8])
            nm.emit(DEV, c.IFACE_PROPERTIES, "PropertiesChanged", "sa{sv}as",
                    [c.IFACE_WIRELESS, {"LastScan": Variant("x", 1234)}, []])  # fmt: skip
            nm.emit(bond, c.IFACE_DEVICE, "StateChanged", "uuu", [120, 70, 5])
            got: list[Any] = []
            for _ in range(50):
                got += stream.drain()
                if len(got) >= 3:
                    break
                time.sleep(0.1)
        finally:
            stream.close()
    assert got == [
        DeviceEvent("wlan0", "need-auth", "config", "supplicant-disconnect"),
        DeviceEvent("wlan0", scan_done=True),
        DeviceEvent("bond0", "failed", "ip-config", "ip-config-unavailable"),
    ]


def test_a_device_is_named_from_interfaces_added_without_asking(bus_address: str) -> None:
    """InterfacesAdded carries the new device's name: no Get, which a device gone at once
    (a bond failing on a duplicate address, on a busy box) would no longer answer."""
    bond = f"{c.NM_PATH}/Devices/9"
    with StandIn(bus_address, {}) as nm:
        stream = DeviceEventStream(["bond0"], bus_address=bus_address)
        try:
            added = {c.IFACE_DEVICE: {"Interface": Variant("s", "bond0"),
                                      "State": Variant("u", 20)}}  # fmt: skip
            nm.emit(c.OBJECT_MANAGER_PATH, c.IFACE_OBJECT_MANAGER, "InterfacesAdded",
                    "oa{sa{sv}}", [bond, added])  # fmt: skip
            nm.emit(c.NM_PATH, c.IFACE, "DeviceAdded", "o", [bond])
            nm.emit(bond, c.IFACE_DEVICE, "StateChanged", "uuu", [120, 70, 5])
            got: list[Any] = []
            for _ in range(50):
                got += stream.drain()
                if got:
                    break
                time.sleep(0.1)
        finally:
            stream.close()
    assert got == [DeviceEvent("bond0", "failed", "ip-config", "ip-config-unavailable")]
    assert not [call for call in nm.calls if call[0] == bond]


def test_a_read_never_takes_the_repr_of_its_result(bus_address: str) -> None:
    """A Snapshot's repr parses every netplan file to redact it: taken by the way (as
    asyncio.run once did, for an error message it then dropped), it cost the runner 1.5 s
    of 15 under emulation."""
    reprs: list[str] = []

    class Loud:
        def __repr__(self) -> str:
            reprs.append("repr")
            return "Loud()"

    async def work(bus: Any) -> Loud:
        return Loud()

    assert isinstance(run_lean(work, bus_address=bus_address), Loud)
    assert reprs == []


class StartingNM(StandIn):
    """Owns the bus name but has exported no object yet, as NetworkManager while it starts."""

    def _on_call(self, msg: Message) -> Message | None:
        if msg.message_type != MessageType.METHOD_CALL:
            return None
        self.calls.append((msg.path or "", msg.interface or "", msg.member or "",
                           msg.signature, list(msg.body)))  # fmt: skip
        # NetworkManager 1.42 says UnknownMethod (measured in the lab), others UnknownObject.
        name = "org.freedesktop.DBus.Error." + ("UnknownMethod" if self.calls[1:] else
                                                "UnknownObject")  # fmt: skip
        return Message.new_error(msg, name, f"Object does not exist at path “{msg.path}”")


def test_a_starting_networkmanager_is_unavailable_not_an_error(bus_address: str) -> None:
    """Its manager not exported yet: retried as a daemon away (steps.patiently), where a
    missing device or checkpoint object stays an error of its own."""
    with StartingNM(bus_address, {}):
        for _ in range(2):  # UnknownObject, then UnknownMethod
            with pytest.raises(BackendUnavailable, match="starting or stopping"):
                writer.checkpoint_paths(bus_address=bus_address)

        async def device(bus: Any) -> Any:
            return await bus.get(DEV, c.IFACE_DEVICE, "Interface")

        with pytest.raises(NMError) as gone:
            run_lean(device, bus_address)
    assert not isinstance(gone.value, BackendUnavailable)
