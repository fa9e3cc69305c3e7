"""Snapshot records from NetworkManager's objects, on plain dicts shaped like the unwrapped
GetManagedObjects reply of a box with a bond of eth0 + wlan0."""

from __future__ import annotations

from typing import Any

from tightrope.nm import build
from tightrope.nm import constants as c

NM = "/org/freedesktop/NetworkManager"
ETH, WLAN, BOND, LO = (f"{NM}/Devices/{n}" for n in (2, 3, 4, 1))
AC_BOND, AC_ETH, AC_WLAN = (f"{NM}/ActiveConnection/{n}" for n in (7, 8, 9))
IP4_BOND, IP6_BOND = f"{NM}/IP4Config/5", f"{NM}/IP6Config/5"
AP1, AP2 = f"{NM}/AccessPoint/1", f"{NM}/AccessPoint/2"
CP = f"{NM}/Checkpoint/1"
BOND_TEXT = (
    "Bonding Mode: fault-tolerance (active-backup) (fail_over_mac active)\n"
    "Primary Slave: eth0 (primary_reselect always)\nCurrently Active Slave: eth0\n"
    "MII Status: up\nMII Polling Interval (ms): 100\n"
)


def objects() -> dict[str, dict[str, dict[str, Any]]]:
    dev = c.IFACE_DEVICE
    return {
        NM: {c.IFACE: {"Version": "1.42.4", "Checkpoints": [CP]}},
        LO: {dev: {"Interface": "lo", "DeviceType": 32, "State": 10, "Managed": False,
                   "StateReason": [10, 0], "HwAddress": "00:00:00:00:00:00"}},
        ETH: {
            dev: {"Interface": "eth0", "DeviceType": 1, "State": 100, "Managed": True,
                  "Driver": "virtio_net", "HwAddress": "52:54:00:12:34:56",
                  "ActiveConnection": AC_ETH, "Ip4Config": "/", "StateReason": [100, 0],
                  "InterfaceFlags": 0x10003},
            c.IFACE_WIRED: {"PermHwAddress": "52:54:00:12:34:56", "Speed": 1000,
                            "Carrier": True},
        },
        WLAN: {
            dev: {"Interface": "wlan0", "DeviceType": 2, "State": 100, "Managed": True,
                  "Driver": "mac80211_hwsim", "HwAddress": "02:00:00:00:00:00",
                  "ActiveConnection": AC_WLAN, "StateReason": [100, 0],
                  "InterfaceFlags": 0x3},
            c.IFACE_WIRELESS: {"PermHwAddress": "02:00:00:00:00:00", "Bitrate": 54000,
                               "ActiveAccessPoint": AP1, "AccessPoints": [AP1, AP2]},
        },
        BOND: {
            dev: {"Interface": "bond0", "DeviceType": 10, "State": 100, "Managed": True,
                  "Driver": "bonding", "HwAddress": "52:54:00:12:34:56",
                  "ActiveConnection": AC_BOND, "Ip4Config": IP4_BOND, "Ip6Config": IP6_BOND,
                  "Ports": [ETH, WLAN], "StateReason": [100, 0]},
            c.IFACE_BOND: {"Carrier": True, "Slaves": [ETH, WLAN]},
        },
        IP4_BOND: {c.IFACE_IP4: {
            "AddressData": [{"address": "198.18.1.64", "prefix": 24}],
            "Gateway": "198.18.1.1",
            "NameserverData": [{"address": "198.18.1.1"}, {"address": "8.8.8.8"}],
        }},
        IP6_BOND: {c.IFACE_IP6: {"AddressData": [{"address": "fe80::1", "prefix": 64}],
                                 "Gateway": ""}},
        AP1: {c.IFACE_AP: {"Ssid": b"TightropeLab", "HwAddress": "02:00:00:00:01:00",
                           "Strength": 70, "Frequency": 2437, "Flags": 1, "WpaFlags": 0,
                           "RsnFlags": 0x188}},
        AP2: {c.IFACE_AP: {"Ssid": b"Open", "HwAddress": "02:00:00:00:02:00",
                           "Strength": 40, "Frequency": 5180, "Flags": 0, "WpaFlags": 0,
                           "RsnFlags": 0}},
        AC_BOND: {c.IFACE_ACTIVE: {"Uuid": "u-bond", "Id": "bond0", "Type": "bond", "State": 2,
                                   "Devices": [BOND], "Default": True}},
        AC_ETH: {c.IFACE_ACTIVE: {"Uuid": "u-eth0", "Id": "bond0-eth0",
                                  "Type": "802-3-ethernet", "State": 2, "Devices": [ETH]}},
        AC_WLAN: {c.IFACE_ACTIVE: {"Uuid": "u-wlan0", "Id": "bond0-wlan0",
                                   "Type": "802-11-wireless", "State": 1, "Devices": [WLAN]}},
        CP: {c.IFACE_CHECKPOINT: {"Devices": [ETH, WLAN], "Created": 123456,
                                  "RollbackTimeout": 120}},
    }  # fmt: skip


def test_devices_sorted_with_types_states_and_macs() -> None:
    devices = build.devices_from(objects(), {})
    assert [(d.interface, d.type, d.state, d.managed) for d in devices] == [
        ("bond0", "bond", "activated", True),
        ("eth0", "ethernet", "activated", True),
        ("lo", "loopback", "unmanaged", False),
        ("wlan0", "wifi", "activated", True),
    ]


def test_ports_know_their_controller_and_profile() -> None:
    devs = {d.interface: d for d in build.devices_from(objects(), {})}
    assert devs["eth0"].controller == "bond0"
    assert devs["wlan0"].controller == "bond0"
    assert devs["bond0"].controller is None
    assert devs["eth0"].active_profile == "u-eth0"
    assert devs["lo"].active_profile is None


def test_controller_from_bond_slaves_on_older_daemons() -> None:
    objs = objects()
    del objs[BOND][c.IFACE_DEVICE]["Ports"]
    assert build.controllers(objs) == {ETH: "bond0", WLAN: "bond0"}


def test_addresses_gateway_dns_on_the_bond() -> None:
    bond = {d.interface: d for d in build.devices_from(objects(), {})}["bond0"]
    assert bond.ip4_addresses == ("198.18.1.64/24",)
    assert bond.ip4_gateway == "198.18.1.1"
    assert bond.ip4_dns == ("198.18.1.1", "8.8.8.8")
    assert bond.ip6_addresses == ("fe80::1/64",)


def test_ip4_dns_from_the_deprecated_nameservers() -> None:
    objs = objects()
    ip4 = objs[IP4_BOND][c.IFACE_IP4]
    del ip4["NameserverData"]
    ip4["Nameservers"] = [int.from_bytes(bytes([8, 8, 4, 4]), "little")]
    bond = {d.interface: d for d in build.devices_from(objs, {})}["bond0"]
    assert bond.ip4_dns == ("8.8.4.4",)


def test_wifi_ssid_signal_speed_and_carrier() -> None:
    devs = {d.interface: d for d in build.devices_from(objects(), {})}
    wlan, eth = devs["wlan0"], devs["eth0"]
    assert (wlan.ssid, wlan.signal, wlan.speed_mbit) == ("TightropeLab", 70, 54)
    assert wlan.carrier is False  # InterfaceFlags without the CARRIER bit
    assert (eth.carrier, eth.speed_mbit, eth.permanent_mac) == (True, 1000, "52:54:00:12:34:56")
    assert devs["lo"].carrier is None


def test_bond_runtime_from_proc_text_and_garbage_tolerated() -> None:
    devs = {d.interface: d for d in build.devices_from(objects(), {"bond0": BOND_TEXT})}
    runtime = devs["bond0"].bond
    assert runtime is not None and runtime.active_port == "eth0"
    devs = {d.interface: d for d in build.devices_from(objects(), {"bond0": "half-made"})}
    assert devs["bond0"].bond is None


def test_state_reason_names_and_none_for_none() -> None:
    objs = objects()
    objs[WLAN][c.IFACE_DEVICE].update(State=30, StateReason=[30, 53])
    devs = {d.interface: d for d in build.devices_from(objs, {})}
    assert (devs["wlan0"].state, devs["wlan0"].state_reason) == ("disconnected", "ssid-not-found")
    assert devs["eth0"].state_reason is None
    objs[WLAN][c.IFACE_DEVICE].update(StateReason=[30, 999])
    assert build.devices_from(objs, {})[-1].state_reason == "reason-999"


def test_active_connections() -> None:
    active = build.active_from(objects())
    assert [(a.id, a.state, a.devices, a.default4) for a in active] == [
        ("bond0", "activated", ("bond0",), True),
        ("bond0-eth0", "activated", ("eth0",), False),
        ("bond0-wlan0", "activating", ("wlan0",), False),
    ]


def test_access_points_strongest_first_with_security() -> None:
    fake = f"{NM}/AccessPoint/7"  # NetworkManager's placeholder for an SSID it is seeking
    objs = {**objects(), fake: {c.IFACE_AP: {"Ssid": b"NoSuchNetwork", "HwAddress": "",
                                             "Strength": 0, "LastSeen": -1}}}  # fmt: skip
    aps = build.access_points_from(objs, {"wlan0": [AP2, AP1, f"{NM}/AccessPoint/99", fake]})
    assert [(a.ssid, a.signal, a.secured, a.seen_by, a.frequency_mhz) for a in aps] == [
        ("TightropeLab", 70, True, "wlan0", 2437),
        ("Open", 40, False, "wlan0", 5180),
    ]


def test_checkpoints_name_their_devices() -> None:
    (cp,) = build.checkpoints_from(objects())
    assert (cp.path, cp.devices, cp.created_ms, cp.rollback_timeout_s) == (
        CP, ("eth0", "wlan0"), 123456, 120,
    )  # fmt: skip


def test_profile_from_settings_folds_unsaved_into_flags() -> None:
    settings = {"connection": {"id": "bond0", "uuid": "u-bond", "type": "bond",
                               "interface-name": "bond0"}}  # fmt: skip
    profile = build.profile_from(settings, "", 0, unsaved=True)
    assert (profile.id, profile.uuid, profile.type, profile.interface) == (
        "bond0", "u-bond", "bond", "bond0",
    )  # fmt: skip
    assert profile.flags == 1 and profile.storage == "memory"
    on_disk = build.profile_from(settings, "/etc/NetworkManager/system-connections/b.nmconnection",
                                 0, unsaved=False)  # fmt: skip
    assert on_disk.storage == "etc"


def test_unrealized_devices_are_left_out() -> None:
    objs = objects()
    objs[f"{NM}/Devices/9"] = {c.IFACE_DEVICE: {"Interface": "trbond0", "DeviceType": 10,
                                                 "State": 10, "Real": False}}  # fmt: skip
    assert "trbond0" not in [d.interface for d in build.devices_from(objs, {})]
