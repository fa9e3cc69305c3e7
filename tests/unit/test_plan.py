from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from tests.unit.builders import ETH0_MAC, netplan_start
from tightrope.core.cautions import Probes
from tightrope.core.config import Sources, parse_config
from tightrope.core.model import BondConfig
from tightrope.core.plan import make_plan
from tightrope.core.profiles import DAD_TIMEOUT_MS, desired_profiles, profile_uuid
from tightrope.core.snapshot import Device, Profile, Snapshot

PSK = "lab-only-passphrase"


def seed_config(**params: Any) -> BondConfig:
    return parse_config(
        {
            "ports": {
                "eth0": {"type": "ethernet"},
                "wlan0": {"type": "wifi", "ssid": "TightropeLab", "psk-env": "P"},
            },
            "parameters": params,
            "ipv4": {
                "addresses": ["198.18.1.64/24"],
                "gateway": "198.18.1.1",
                "nameservers": {"addresses": ["198.18.1.1"]},
            },
        },
        Sources(env={"P": PSK}),
    )


def as_in_place(config: BondConfig, snap: Snapshot) -> Snapshot:
    """The snapshot NetworkManager would give once the config is applied and confirmed."""
    desired = desired_profiles(config)
    profiles = tuple(
        Profile(d.uuid, d.id, d.type, d.interface,
                f"/etc/NetworkManager/system-connections/{d.id}.nmconnection", 0,
                json.loads(json.dumps(d.settings)))
        for d in desired
    )
    devices = [replace(dev, active_profile=profile_uuid("bond0", dev.interface))
               if dev.interface in ("eth0", "wlan0") else dev for dev in snap.devices]
    devices.append(Device("bond0", "bond", "activated", True, mac=ETH0_MAC,
                          active_profile=profile_uuid("bond0"),
                          ip4_addresses=("198.18.1.64/24",)))
    return replace(snap, profiles=profiles, devices=tuple(devices), active=(), netplan_files={},
                   session=replace(snap.session, ssh_server="198.18.1.64"))


def test_seed_journey_from_netplan_start() -> None:
    plan = make_plan(seed_config(), netplan_start())
    actions = [(c.action, c.profile) for c in plan.changes]
    assert actions == [
        ("add", "bond0"),
        ("add", "bond0-port-eth0"),
        ("add", "bond0-port-wlan0"),
        ("retire", "netplan-eth0"),
        ("retire", "netplan-wlan0-TightropeLab"),
    ]
    retire_eth = plan.changes[3]
    assert any("50-lab.yaml (ethernets.eth0)" in d for d in retire_eth.details)
    codes = {w.code for w in plan.warnings}
    assert "ssh-cut" in codes and "netplan" in codes and "no-primary" not in codes
    assert "link-only" not in codes  # the default watches the path (ARP to the gateway)
    mii = make_plan(seed_config(**{"mii-monitor-interval": 100}), netplan_start())
    link_only = next(w for w in mii.warnings if w.code == "link-only")
    assert "arp-interval" in link_only.message and link_only.severity == "info"
    assert plan.reconnect_at == "198.18.1.64"
    assert plan.discovery.storage_world == "keyfile"
    assert {(n.path, n.key) for n in plan.discovery.netplan} == {
        ("/etc/netplan/50-lab.yaml", "eth0"), ("/etc/netplan/50-lab.yaml", "wlan0")}


def test_reapplying_the_state_in_place_changes_nothing() -> None:
    config = seed_config()
    plan = make_plan(config, as_in_place(config, netplan_start()))
    assert plan.no_change, plan.changes
    assert "ssh-cut" not in {w.code for w in plan.warnings}


def test_changed_psk_and_options_are_modifications_without_values() -> None:
    config = seed_config()
    snap = as_in_place(config, netplan_start())
    other = parse_config(
        {"ports": {"eth0": {"type": "ethernet"},
                   "wlan0": {"type": "wifi", "ssid": "TightropeLab", "psk-env": "P"}},
         "parameters": {"up-delay": 3000},
         "ipv4": {"addresses": ["198.18.1.64/24"], "gateway": "198.18.1.1",
                  "nameservers": {"addresses": ["198.18.1.1"]}}},
        Sources(env={"P": "another-passphrase"}),
    )
    plan = make_plan(other, snap)
    mods = {c.profile: c.details for c in plan.changes}
    assert mods["bond0"] == ("bond.options",)
    assert mods["bond0-port-wlan0"] == ("802-11-wireless-security.psk (secret)",)
    text = json.dumps(plan.to_dict())
    assert "another-passphrase" not in text and PSK not in text


def test_psk_unreadable_without_root_counts_as_change() -> None:
    config = seed_config()
    snap = as_in_place(config, netplan_start())
    stripped = tuple(
        replace(p, settings={k: v for k, v in p.settings.items()
                             if k != "802-11-wireless-security"} | (
            {"802-11-wireless-security": {"key-mgmt": "wpa-psk"}}
            if "802-11-wireless-security" in p.settings else {}))
        for p in snap.profiles
    )
    plan = make_plan(config, replace(snap, profiles=stripped))
    assert [c.action for c in plan.changes] == ["modify"]


def test_bond_options_by_number_equal_by_name() -> None:
    config = seed_config(**{"mii-monitor-interval": 100})
    snap = as_in_place(config, netplan_start())
    profiles = []
    for p in snap.profiles:
        if p.type == "bond":
            s = dict(p.settings)
            s["bond"] = {"options": {"mode": "1", "miimon": "100", "primary": "eth0",
                                     "fail_over_mac": "1", "updelay": "2000",
                                     "num_unsol_na": "3", "peer_notif_delay": "200"}}
            p = replace(p, settings=s)
        profiles.append(p)
    assert make_plan(config, replace(snap, profiles=tuple(profiles))).no_change


def test_profiles_not_active_means_activate() -> None:
    config = seed_config()
    snap = as_in_place(config, netplan_start())
    devices = tuple(replace(d, active_profile=None) if d.interface == "wlan0" else d
                    for d in snap.devices)
    plan = make_plan(config, replace(snap, devices=devices))
    assert [c.action for c in plan.changes] == ["activate"]


def test_rpios_start_claims_by_mac_and_any_device() -> None:
    snap = netplan_start(
        profiles=[
            {"uuid": "u-wired", "id": "Wired connection 1", "type": "802-3-ethernet",
             "interface": None, "flags": 0, "filename": "/etc/NetworkManager/"
             "system-connections/Wired connection 1.nmconnection",
             "settings": {"802-3-ethernet": {"mac-address": ETH0_MAC.lower()}}},
            {"uuid": "u-pre", "id": "preconfigured", "type": "802-11-wireless",
             "interface": None, "flags": 0,
             "filename": "/etc/NetworkManager/system-connections/preconfigured.nmconnection",
             "settings": {"802-11-wireless": {"ssid": "TightropeLab"}}},
        ],
        netplan_files={},
    )
    plan = make_plan(seed_config(), snap)
    retired = {c.profile: c.details[0] for c in plan.changes if c.action == "retire"}
    assert "by mac" in retired["Wired connection 1"]
    assert "rpios-preconfigured" in retired["preconfigured"]
    assert "any-device" in retired["preconfigured"]
    assert "netplan" not in {w.code for w in plan.warnings}


def test_warnings_a_careful_admin_needs() -> None:
    snap = netplan_start()
    devices = tuple(replace(d, managed=False) if d.interface == "wlan0" else d
                    for d in snap.devices if d.interface != "eth0")
    snap = replace(snap, devices=devices, access_points=(
        replace(snap.access_points[0], ssid="Other"),), wifi_powersave={"wlan0": True})
    config = seed_config(primary=None)
    plan = make_plan(config, snap, Probes(address_in_use=frozenset({"198.18.1.64"})))
    codes = {w.code for w in plan.warnings}
    assert codes >= {"no-primary", "port-missing", "port-unmanaged", "ssid-not-seen",
                     "wifi-powersave", "address-in-use", "ssh-cut"}


def test_dhcp_with_moving_mac_warns_about_client_id() -> None:
    config = parse_config(
        {"ports": {"eth0": {"type": "ethernet"},
                   "wlan0": {"type": "wifi", "ssid": "X", "psk-env": "P"}},
         "ipv4": {"dhcp": True}}, Sources(env={"P": PSK}))
    plan = make_plan(config, netplan_start())
    assert "dhcp-mac" in {w.code for w in plan.warnings}
    assert plan.reconnect_at is None


def test_files_a_change_in_place_rewrites_and_no_change_leaves() -> None:
    snap = as_in_place(seed_config(), netplan_start())
    assert make_plan(seed_config(), snap).storage.files == ()
    plan = make_plan(seed_config(**{"up-delay": 1000}), snap)
    assert [(f.action, f.path) for f in plan.storage.files] == [
        ("rewrite", "/etc/NetworkManager/system-connections/bond0.nmconnection")
    ]


def test_a_static_address_is_probed_before_use_and_its_conflict_fails_the_bond() -> None:
    """A bond made before tightrope asked for duplicate address detection is modified to
    ask for it; with DHCP the client probes its lease on its own terms."""
    config = seed_config()
    bond = desired_profiles(config)[0]
    assert bond.settings["ipv4"]["dad-timeout"] == DAD_TIMEOUT_MS
    assert bond.settings["ipv4"]["may-fail"] is False
    snap = as_in_place(config, netplan_start())
    older = tuple(
        replace(p, settings={**p.settings, "ipv4": {k: v for k, v in p.settings["ipv4"].items()
                                                    if k not in ("dad-timeout", "may-fail")}})
        if p.type == "bond" else p
        for p in snap.profiles
    )  # fmt: skip
    plan = make_plan(config, replace(snap, profiles=older))
    assert [(c.profile, c.details) for c in plan.changes] == [
        ("bond0", ("ipv4.dad-timeout", "ipv4.may-fail"))
    ]
    dhcp = parse_config({"ports": {"eth0": {"type": "ethernet"}}, "ipv4": {"dhcp": True}})
    assert "dad-timeout" not in desired_profiles(dhcp)[0].settings["ipv4"]
