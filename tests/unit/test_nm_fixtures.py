"""Snapshots captured from the lab box's real NetworkManager 1.42 (`python -m
tightrope.nm.capture --scan`, without secrets):

- netplan-start.json: the netplan start state (netplan-eth0, netplan-wlan0-TightropeLab in /run).
- rpios-start.json: the Raspberry Pi OS start state ("Wired connection 1", "preconfigured").
- bonded.json: after the seed article's nmcli script (bond0 at .64, no primary), a pulled and
  re-plugged cable: the bond stayed on wlan0, which is what having no primary costs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tightrope.core.snapshot import Snapshot
from tightrope.nm.normalise import normalise_settings, unwrap
from tightrope.nm.to_dbus import settings_to_dbus

SNAPSHOTS = Path(__file__).parent.parent / "fixtures" / "snapshots"
NAMES = ("netplan-start", "rpios-start", "bonded")


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SNAPSHOTS / f"{name}.json").read_text())
    return data


def load(name: str) -> Snapshot:
    return Snapshot.from_dict(raw(name))


@pytest.mark.parametrize("name", NAMES)
def test_snapshot_round_trips_through_json(name: str) -> None:
    data = raw(name)
    assert json.loads(json.dumps(Snapshot.from_dict(data).to_dict())) == data


@pytest.mark.parametrize("name", NAMES)
def test_every_real_profile_goes_back_to_dbus_unchanged(name: str) -> None:
    for profile in load(name).profiles:
        settings = {k: dict(v) for k, v in profile.settings.items()}
        assert normalise_settings(unwrap(settings_to_dbus(settings))) == settings, profile.id


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_in_a_fixture(name: str) -> None:
    text = (SNAPSHOTS / f"{name}.json").read_text()
    assert '"psk"' not in text and "lab-only-psk" not in text


def test_netplan_start_state() -> None:
    snap = load("netplan-start")
    assert snap.nm_version.startswith("1.42")
    eth, wifi = snap.profile("netplan-eth0"), snap.profile("netplan-wlan0-TightropeLab")
    assert eth is not None and wifi is not None
    assert (eth.storage, wifi.storage) == ("run", "run")
    assert wifi.get("802-11-wireless", "ssid") == "TightropeLab"
    assert eth.get("ipv4", "address-data") == [{"address": "198.18.1.50", "prefix": 24}]
    assert eth.get("ipv4", "dns") == ["198.18.1.1"]
    assert "addresses" not in eth.settings["ipv4"]
    assert list(snap.netplan_files) == ["/etc/netplan/50-cloud-init.yaml"]
    assert not snap.nm_uses_netplan  # Debian's NetworkManager has no netplan integration
    eth0 = snap.device("eth0")
    assert eth0 is not None and eth0.active_profile == eth.uuid
    assert eth0.ip4_gateway == "198.18.1.1" and eth0.carrier is True
    wlan0 = snap.device("wlan0")
    assert wlan0 is not None and (wlan0.ssid, wlan0.type) == ("TightropeLab", "wifi")
    assert [a.ssid for a in snap.access_points] == ["TightropeLab"]
    assert snap.wifi_powersave == {"wlan0": False}
    assert snap.session.ssh_server == "198.18.1.50"


def test_rpios_start_state() -> None:
    snap = load("rpios-start")
    wired, pre = snap.profile("Wired connection 1"), snap.profile("preconfigured")
    assert wired is not None and pre is not None
    assert (wired.storage, pre.storage) == ("etc", "etc")
    assert wired.interface == "eth0" and pre.interface is None  # claims wlan0 by type only
    assert wired.get("connection", "autoconnect-priority") == -999
    assert (wired.get("ipv4", "method"), pre.get("ipv4", "method")) == ("auto", "auto")
    assert snap.netplan_files == {}
    wlan0 = snap.device("wlan0")
    assert wlan0 is not None and wlan0.active_profile == pre.uuid


def test_seed_bond_after_a_cable_flap() -> None:
    snap = load("bonded")
    bond0 = snap.device("bond0")
    assert bond0 is not None and bond0.bond is not None
    assert bond0.ip4_addresses == ("198.18.1.64/24",)
    runtime = bond0.bond
    assert (runtime.mode, runtime.fail_over_mac, runtime.primary) == (
        "active-backup", "active", None,
    )  # fmt: skip
    assert runtime.active_port == "wlan0"
    assert [p.interface for p in runtime.ports] == ["eth0", "wlan0"]
    assert runtime.ports[0].link_failure_count == 1
    for port in ("eth0", "wlan0"):
        dev = snap.device(port)
        assert dev is not None and dev.controller == "bond0"
    profile = snap.profile("bond0-wlan0")
    assert profile is not None and profile.controller == "bond0"
    assert profile.get("connection", "slave-type") == "bond"
    bond_profile = snap.profile("bond0")
    assert bond_profile is not None
    assert bond_profile.get("bond", "options") == {
        "fail_over_mac": "active", "miimon": "100", "mode": "active-backup",
    }  # fmt: skip
    assert snap.profile("netplan-eth0") is None
    assert snap.session.ssh_server == "198.18.1.64"
