"""The blocking client (nm/lean.py) on a private dbus-daemon, against a stand-in that owns
NetworkManager's bus name: a whole snapshot read, errors named, timeouts, and no asyncio or
dbus-fast imported by a read."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Variant

from tightrope.errors import BackendUnavailable
from tightrope.nm import constants as c
from tightrope.nm.errors import NMError
from tightrope.nm.lean import Call, connect, drive, run_lean, socket_path
from tightrope.nm.reader import read_snapshot

from .test_nm_bus import Handler, Reply, StandIn, bus_address  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon")

ETH = f"{c.NM_PATH}/Devices/2"
WLAN = f"{c.NM_PATH}/Devices/3"
AP = f"{c.NM_PATH}/AccessPoint/9"
CONN = f"{c.SETTINGS_PATH}/7"
ACTIVE = f"{c.NM_PATH}/ActiveConnection/1"
IP4 = f"{c.NM_PATH}/IP4Config/4"


def _objects() -> dict[str, dict[str, dict[str, Variant]]]:
    return {
        c.NM_PATH: {c.IFACE: {"Version": Variant("s", "1.42.4")}},
        c.SETTINGS_PATH: {c.IFACE_SETTINGS: {"Hostname": Variant("s", "pi")}},
        ETH: {
            c.IFACE_DEVICE: {
                "Interface": Variant("s", "eth0"),
                "DeviceType": Variant("u", 1),
                "State": Variant("u", 100),
                "Managed": Variant("b", True),
                "ActiveConnection": Variant("o", ACTIVE),
                "Ip4Config": Variant("o", IP4),
            },
            c.IFACE_WIRED: {"PermHwAddress": Variant("s", "52:54:00:12:34:56")},
        },
        WLAN: {
            c.IFACE_DEVICE: {
                "Interface": Variant("s", "wlan0"),
                "DeviceType": Variant("u", 2),
                "State": Variant("u", 30),
                "Managed": Variant("b", True),
            },
            c.IFACE_WIRELESS: {"AccessPoints": Variant("ao", [AP]), "LastScan": Variant("x", 5)},
        },
        AP: {c.IFACE_AP: {"Ssid": Variant("ay", b"TightropeLab"), "Strength": Variant("y", 70),
                          "HwAddress": Variant("s", "02:00:00:00:01:00")}},
        IP4: {c.IFACE_IP4: {"AddressData": Variant("aa{sv}", [
            {"address": Variant("s", "198.18.1.10"), "prefix": Variant("u", 24)}])}},
        ACTIVE: {c.IFACE_ACTIVE: {"Uuid": Variant("s", "u-eth"), "Id": Variant("s", "eth0")}},
        CONN: {c.IFACE_CONNECTION: {"Filename": Variant("s", "/run/x.nmconnection"),
                                    "Flags": Variant("u", 0), "Unsaved": Variant("b", False)}},
    }


def _table() -> dict[tuple[str, str, str], Handler]:
    settings = {
        "connection": {"id": Variant("s", "eth0"), "uuid": Variant("s", "u-eth"),
                       "type": Variant("s", "802-3-ethernet"),
                       "interface-name": Variant("s", "eth0")},
        "ipv4": {"method": Variant("s", "manual"),
                 "dns": Variant("au", [0x0100_12C6])},  # 198.18.0.1, host order on the wire
    }  # fmt: skip

    def managed(body: list[Any]) -> Reply:
        return "a{oa{sa{sv}}}", [_objects()]

    return {
        (c.OBJECT_MANAGER_PATH, c.IFACE_OBJECT_MANAGER, "GetManagedObjects"): managed,
        (CONN, c.IFACE_CONNECTION, "GetSettings"): lambda body: ("a{sa{sv}}", [settings]),
        (WLAN, c.IFACE_WIRELESS, "GetAllAccessPoints"): lambda body: ("ao", [[AP]]),
    }


def test_a_whole_snapshot_is_read(
    bus_address: str, tmp_path: Path  # noqa: F811 - the fixture
) -> None:
    with StandIn(bus_address, _table()):
        lean = read_snapshot(bus_address=bus_address, root=tmp_path, environ={})
    (eth0, wlan0) = lean.devices
    assert (eth0.state, eth0.active_profile, eth0.permanent_mac) == (
        "activated", "u-eth", "52:54:00:12:34:56")
    assert wlan0.state == "disconnected" and eth0.ip4_addresses == ("198.18.1.10/24",)
    assert [d.interface for d in lean.devices] == ["eth0", "wlan0"]
    assert lean.nm_version == "1.42.4" and lean.hostname == "pi"
    (profile,) = lean.profiles
    assert profile.id == "eth0" and profile.get("ipv4", "dns") == ["198.18.0.1"]
    assert [ap.ssid for ap in lean.access_points] == ["TightropeLab"]


def test_errors_are_named_and_the_connection_stays_good(
    bus_address: str,  # noqa: F811 - the fixture
) -> None:
    with pytest.raises(BackendUnavailable, match="not running"):
        read_snapshot(bus_address=bus_address)
    with StandIn(bus_address, _table()):
        bus = connect(bus_address)
        try:
            with pytest.raises(NMError, match=r"UnknownMethod|failed"):
                bus.call_now(ETH, c.IFACE_DEVICE, "Nothing")
            # The connection is still good for the next call after an error reply.
            (objects,) = bus.call_now(c.OBJECT_MANAGER_PATH, c.IFACE_OBJECT_MANAGER,
                                      "GetManagedObjects")  # fmt: skip
            assert objects[ETH][c.IFACE_DEVICE]["Interface"] == "eth0"
            assert drive(bus.nm_pid()) is not None
        finally:
            bus.close()


def test_a_silent_networkmanager_times_out(bus_address: str) -> None:  # noqa: F811
    def never(body: list[Any]) -> Reply:
        import time

        time.sleep(1.5)
        return "", []

    with StandIn(bus_address, {(c.NM_PATH, c.IFACE, "Slow"): never}):
        bus = connect(bus_address, timeout_s=0.3)
        try:
            with pytest.raises(NMError, match="did not answer in time"):
                bus.call_now(c.NM_PATH, c.IFACE, "Slow")
        finally:
            bus.close()


def test_calls_sent_at_once_come_back_in_order_each_with_its_error(
    bus_address: str,  # noqa: F811 - the fixture
) -> None:
    with StandIn(bus_address, _table()):
        bus = connect(bus_address)
        try:
            first, gone, again = bus.call_all([
                Call(CONN, c.IFACE_CONNECTION, "GetSettings"),
                Call(f"{c.SETTINGS_PATH}/99", c.IFACE_CONNECTION, "GetSettings"),
                Call(CONN, c.IFACE_CONNECTION, "GetSettings"),
            ])  # fmt: skip
            assert isinstance(first, list) and first[0]["connection"]["id"] == "eth0"
            assert isinstance(gone, NMError) and again == first
            assert bus.call_all([]) == []
        finally:
            bus.close()


def test_calls_unanswered_by_the_deadline_time_out_one_by_one(
    bus_address: str,  # noqa: F811 - the fixture
) -> None:
    def never(body: list[Any]) -> Reply:
        import time

        time.sleep(1.5)
        return "", []

    table = {**_table(), (c.NM_PATH, c.IFACE, "Slow"): never}
    with StandIn(bus_address, table):
        bus = connect(bus_address, timeout_s=0.5)
        try:
            got = bus.call_all([Call(CONN, c.IFACE_CONNECTION, "GetSettings"),
                                Call(c.NM_PATH, c.IFACE, "Slow")])  # fmt: skip
            assert isinstance(got[0], list)
            assert isinstance(got[1], NMError) and "did not answer in time" in str(got[1])
        finally:
            bus.close()


def test_no_bus_at_all(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        run_lean(lambda bus: bus.nm_pid(), f"unix:path={tmp_path}/nothing")
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        run_lean(lambda bus: bus.nm_pid(), "tcp:host=198.18.0.1,port=1")


def test_socket_paths() -> None:
    assert socket_path("unix:path=/run/dbus/system_bus_socket") == "/run/dbus/system_bus_socket"
    assert socket_path("tcp:host=x;unix:path=/tmp/a%20b,guid=1") == "/tmp/a b"
    assert socket_path("unix:abstract=/tmp/dbus-x") == "\0/tmp/dbus-x"


def test_drive_refuses_work_that_waits_on_a_loop() -> None:
    async def waits() -> None:
        import asyncio

        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="event loop"):
        drive(waits())


def test_a_read_imports_neither_asyncio_nor_dbus_fast(
    bus_address: str, tmp_path: Path  # noqa: F811 - the fixture
) -> None:
    code = ("import sys; from tightrope.nm import read_snapshot; "
            f"read_snapshot(bus_address={bus_address!r}, root={str(tmp_path)!r}, environ={{}}); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('asyncio', 'dbus_fast')))")  # fmt: skip
    with StandIn(bus_address, _table()):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
    assert out.strip() == "[]"
