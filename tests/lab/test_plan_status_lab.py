"""`plan` and `status` against the real NetworkManager of the lab box (issue: foundation)."""

from __future__ import annotations

import json

import pytest

from tests.lab.boxtools import config_text, tr, write_config
from tightrope.lab import Box

pytestmark = pytest.mark.lab


def test_plan_from_both_start_states(any_box: Box) -> None:
    write_config(any_box, config_text())
    cp = tr(any_box, "plan /root/bond.yaml --json")
    assert cp.returncode == 10, cp.stderr
    plan = json.loads(cp.stdout)
    actions = sorted((c["action"], c["profile"]) for c in plan["changes"])
    adds = [("add", "bond0"), ("add", "bond0-port-eth0"), ("add", "bond0-port-wlan0")]
    if "netplan" in plan["discovery"]["claims"][0]["origin"]:
        assert actions == [
            *adds,
            ("retire", "netplan-eth0"),
            ("retire", "netplan-wlan0-TightropeLab"),
        ]
        assert {n["key"] for n in plan["discovery"]["netplan"]} == {"eth0", "wlan0"}
    else:
        assert actions == [*adds, ("retire", "Wired connection 1"), ("retire", "preconfigured")]
    codes = {w["code"] for w in plan["warnings"]}
    assert "ssh-cut" in codes  # the test's SSH session runs over eth0's old address
    assert "lab-only" not in cp.stdout  # the PSK never shows


def test_plan_invalid_config_exits_3_naming_fields(netplan_box: Box) -> None:
    write_config(netplan_box, config_text(address="198.18.1.64", gateway="198.19.0.1"))
    cp = tr(netplan_box, "plan /root/bond.yaml")
    assert cp.returncode == 3
    assert "ipv4.addresses[0]" in cp.stderr and "Traceback" not in cp.stderr


def test_status_without_bond_shows_claims(any_box: Box) -> None:
    cp = tr(any_box, "status --json")
    assert cp.returncode == 0, cp.stderr
    report = json.loads(cp.stdout)
    assert report["bonds"] == [] and report["nm_version"].startswith("1.42")
    devices = {d["interface"]: d for d in report["devices"]}
    assert devices["eth0"]["claimed_by"] and devices["wlan0"]["claimed_by"]
    assert devices["eth0"]["addresses"][0] == "198.18.1.50/24"


def test_status_of_a_bond_built_by_hand(netplan_box: Box) -> None:
    """The seed's bond, made with nmcli, read back by status (no primary, both ports)."""
    netplan_box.ssh(
        "nmcli c add type bond con-name b ifname bond0 bond.options mode=active-backup,miimon=100"
        " ipv4.method manual ipv4.addresses 198.18.1.70/24 && "
        "nmcli c add type ethernet con-name b-eth slave-type bond master bond0 ifname eth1x "
        ">/dev/null; nmcli c up b >/dev/null; sleep 2",
        timeout=60,
    )
    cp = tr(netplan_box, "status --json")
    report = json.loads(cp.stdout)
    (bond,) = report["bonds"]
    assert bond["name"] == "bond0" and bond["mode"] == "active-backup"
    assert bond["miimon_ms"] == 100 and bond["primary"] is None
