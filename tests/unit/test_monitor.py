"""The ARP monitor's rules (core.monitor), on plain data: what is refused before anything
changes, with the key and the fix, and what NetworkManager and netplan are told."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import Any

import pytest

from tightrope.core.collect import Collector
from tightrope.core.monitor import ArpAllTargets, ArpMonitor, ArpValidate, parse_arp

LAN = (IPv4Interface("198.18.1.64/24"),)
GW = IPv4Address("198.18.1.1")


def parse(params: dict[str, Any], *, mode: str = "active-backup",
          addresses: tuple[IPv4Interface, ...] = LAN,
          gateway: IPv4Address | None = GW) -> tuple[ArpMonitor | None, list[str]]:  # fmt: skip
    c = Collector()
    got = parse_arp(c, params, mode=mode, addresses=addresses, gateway=gateway,
                    default_validate=ArpValidate.ACTIVE)  # fmt: skip
    return got, [f"{p.field}: {p.message} -> {p.fix}" for p in c.problems]


def test_no_arp_interval_is_mii_monitoring() -> None:
    assert parse({"mii-monitor-interval": 100}) == (None, [])


def test_the_gateway_is_the_target_when_none_is_named() -> None:
    got, problems = parse({"arp-interval": 200})
    assert problems == []
    assert got == ArpMonitor(200, (GW,), ArpValidate.ACTIVE, ArpAllTargets.ANY, 2)
    assert got.floor_ms == 400
    assert got.nm_options() == {
        "miimon": "0", "arp_interval": "200", "arp_ip_target": "198.18.1.1",
        "arp_validate": "active", "arp_all_targets": "any", "arp_missed_max": "2",
    }  # fmt: skip
    assert got.netplan_parameters() == {
        "arp-interval": 200, "arp-ip-targets": ["198.18.1.1"], "arp-validate": "active",
        "arp-all-targets": "any",
    }  # fmt: skip


def test_every_key_as_netplan_names_it() -> None:
    got, problems = parse({"arp-interval": 100, "arp-ip-targets": ["198.18.1.1", "198.18.1.2"],
                           "arp-validate": "all", "arp-all-targets": "all",
                           "arp-missed-max": 3})  # fmt: skip
    assert problems == []
    assert got is not None and got.floor_ms == 300
    assert got.nm_options()["arp_ip_target"] == "198.18.1.1,198.18.1.2"


@pytest.mark.parametrize(
    ("params", "kw", "expected"),
    [
        ({"arp-validate": "all"}, {},
         "parameters.arp-validate: is set without arp-interval -> add arp-interval (e.g. 200) "
         "to monitor with ARP, or leave it out"),
        ({"arp-interval": 200, "up-delay": 2000}, {},
         "parameters.up-delay: works only with MII monitoring, not with arp-interval -> leave "
         "up-delay out, or arp-interval and the other arp-* keys"),
        ({"arp-interval": 200, "mii-monitor-interval": 100}, {},
         "parameters.mii-monitor-interval: works only with MII monitoring, not with "
         "arp-interval -> leave mii-monitor-interval out, or arp-interval and the other arp-* "
         "keys"),
        ({"arp-interval": 200}, {"mode": "balance-alb"},
         "parameters.arp-interval: cannot monitor a bond in mode balance-alb -> use mode "
         "active-backup, or MII monitoring (mii-monitor-interval)"),
        ({"arp-interval": 5}, {},
         "parameters.arp-interval: is 5; it must be from 10 to 10000 -> write a number from 10 "
         "to 10000"),
        ({"arp-interval": 200}, {"gateway": None},
         "parameters.arp-ip-targets: is needed: there is no static gateway to ask -> list one "
         "or more addresses on the LAN that always answer, e.g. the router's"),
        ({"arp-interval": 200, "arp-ip-targets": "198.18.1.1"}, {},
         "parameters.arp-ip-targets: must be a list of IPv4 addresses -> write it as "
         "[198.18.1.1] (the gateway is the usual target)"),
        ({"arp-interval": 200, "arp-ip-targets": [f"198.18.1.{i}" for i in range(1, 18)]}, {},
         "parameters.arp-ip-targets: has 17 addresses; the kernel takes at most 16 -> keep 16 "
         "or fewer"),
        ({"arp-interval": 200, "arp-ip-targets": ["198.18.1.300"]}, {},
         "parameters.arp-ip-targets[0]: '198.18.1.300' is not an IPv4 address -> write it as "
         "198.18.1.1"),
        ({"arp-interval": 200, "arp-ip-targets": ["198.18.1.64"]}, {},
         "parameters.arp-ip-targets[0]: 198.18.1.64 is the bond's own address -> use another "
         "host on the LAN, e.g. the gateway"),
        ({"arp-interval": 200, "arp-ip-targets": ["198.19.0.1"]}, {},
         "parameters.arp-ip-targets[0]: 198.19.0.1 is not on the bond's LAN (198.18.1.0/24): "
         "ARP cannot reach it -> use a host on that LAN, e.g. the gateway"),
        ({"arp-interval": 200, "arp-ip-targets": ["198.18.1.255"]}, {},
         "parameters.arp-ip-targets[0]: 198.18.1.255 is the LAN's broadcast address -> use a "
         "host on the LAN, e.g. the gateway"),
        ({"arp-interval": 200, "arp-ip-targets": ["224.0.0.1"]}, {"addresses": ()},
         "parameters.arp-ip-targets[0]: 224.0.0.1 cannot answer ARP -> use a host on the LAN, "
         "e.g. the gateway"),
        ({"arp-interval": 200, "arp-ip-targets": ["198.18.1.1", "198.18.1.1"]}, {},
         "parameters.arp-ip-targets[1]: 198.18.1.1 is listed twice -> list each target once"),
        ({"arp-interval": 200, "arp-validate": "filter"}, {},
         "parameters.arp-validate: 'filter' is not one of none, active, backup, all -> use one "
         "of: none, active, backup, all"),
        ({"arp-interval": 200, "arp-missed-max": 0}, {},
         "parameters.arp-missed-max: is 0; it must be from 1 to 255 -> write a number from 1 "
         "to 255"),
    ],
)  # fmt: skip
def test_refused_before_anything_changes(params: dict[str, Any], kw: dict[str, Any],
                                         expected: str) -> None:  # fmt: skip
    got, problems = parse(params, **kw)
    assert got is None
    assert problems == [expected]


def test_with_dhcp_a_named_target_is_not_checked_against_a_lan() -> None:
    got, problems = parse({"arp-interval": 200, "arp-ip-targets": ["198.18.1.1"]},
                          addresses=(), gateway=None)  # fmt: skip
    assert problems == [] and got is not None and got.targets == (GW,)
