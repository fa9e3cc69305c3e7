"""A bad change is caught as soon as it is certain, and named in the admin's words.

Pure rules (Tripwire, the ARP parsers) on plain data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.unit.builders import netplan_start
from tests.unit.test_plan import PSK
from tightrope.core.arp import neigh_answered, parse_arping, parse_neigh_state
from tightrope.core.config import Sources, parse_config
from tightrope.core.failfast import DeviceEvent, Tripwire, bond_ready_for_arp
from tightrope.core.model import BondConfig
from tightrope.core.snapshot import BondRuntime, Device

PSK_REFUSED = "the access point 'TightropeLab' refused the PSK for wlan0; check the passphrase"
NO_SSID = ("no access point 'NoSuchNetwork' in range of wlan0 (not in its scan results); "
           "check the SSID")  # fmt: skip
IN_USE = ("198.18.1.10 is already in use on the LAN (another machine answered ARP for it); "
          "choose a free address")  # fmt: skip


def config(ssid: str = "TightropeLab", address: str = "198.18.1.64/24",
           gateway: str = "198.18.1.1", dhcp: bool = False) -> BondConfig:  # fmt: skip
    ipv4: dict[str, Any] = {"dhcp": True} if dhcp else {"addresses": [address],
                                                        "gateway": gateway}  # fmt: skip
    return parse_config(
        {"ports": {"eth0": {"type": "ethernet"},
                   "wlan0": {"type": "wifi", "ssid": ssid, "psk-env": "P"}},
         "ipv4": ipv4},
        Sources(env={"P": PSK}),
    )  # fmt: skip


# -- ARP parsers ---------------------------------------------------------------------------

ARPING_REPLY = """ARPING 198.18.1.1 from 198.18.1.64 bond0
Unicast reply from 198.18.1.1 [6A:2B:11:00:00:01]  0.912ms
Sent 1 probes (1 broadcast(s))
Received 1 response(s)
"""
ARPING_SILENT = """ARPING 198.18.1.254 from 198.18.1.64 bond0
Sent 3 probes (3 broadcast(s))
Received 0 response(s)
"""


def test_arping_output_says_who_answered() -> None:
    got = parse_arping(ARPING_REPLY)
    assert got is not None and got.answered and got.macs == ("6a:2b:11:00:00:01",)
    silent = parse_arping(ARPING_SILENT)
    assert silent is not None and (silent.sent, silent.answered) == (3, False)
    assert parse_arping("arping: Device bond0 not available.\n") is None
    assert parse_arping("") is None


@pytest.mark.parametrize(
    ("text", "state", "answered"),
    [
        ("198.18.1.254  FAILED\n", "FAILED", False),
        ("198.18.1.254 INCOMPLETE\n", "INCOMPLETE", None),
        ("198.18.1.254 lladdr 6a:2b:11:00:00:01 REACHABLE\n", "REACHABLE", True),
        ("198.18.1.254 dev bond0 lladdr 6a:2b:11:00:00:01 router STALE\n", "STALE", True),
        ("198.18.1.2 lladdr 6a:2b:11:00:00:02 REACHABLE\n", None, None),  # another address
        ("", None, None),
    ],
)
def test_neighbour_table_states(text: str, state: str | None, answered: bool | None) -> None:
    assert parse_neigh_state(text, "198.18.1.254") == state
    assert neigh_answered(state) is answered


# -- Tripwire ------------------------------------------------------------------------------


def test_networkmanager_asking_for_a_new_psk_is_a_refused_psk() -> None:
    trip = Tripwire(config())
    assert trip.event(DeviceEvent("wlan0", "config", "prepare", "none")) is None
    assert trip.event(DeviceEvent("wlan0", "need-auth", "config", "supplicant-disconnect")) == (
        PSK_REFUSED
    )
    assert Tripwire(config()).event(DeviceEvent("wlan0", "failed", "config", "no-secrets")) == (
        PSK_REFUSED
    )


def test_ssid_absent_from_a_scan_made_while_joining() -> None:
    cfg = config(ssid="NoSuchNetwork")
    snap = netplan_start()  # wlan0 sees only TightropeLab
    trip = Tripwire(cfg)
    # A scan before our activation began says nothing about it.
    assert trip.event(DeviceEvent("wlan0", scan_done=True)) is None
    assert trip.snapshot(snap) is None
    trip.event(DeviceEvent("wlan0", "prepare", "disconnected", "none"))
    assert trip.snapshot(snap) is None  # no scan since: the list may predate the AP
    trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(snap) == NO_SSID
    # NetworkManager's own verdict, 25 s later, says the same.
    assert Tripwire(cfg).event(DeviceEvent("wlan0", "failed", "config", "ssid-not-found")) == (
        NO_SSID
    )


def test_a_present_ssid_after_a_scan_is_no_verdict() -> None:
    trip = Tripwire(config())
    trip.event(DeviceEvent("wlan0", "config", "prepare", "none"))
    trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(netplan_start()) is None


def test_bond_failing_on_its_static_address_is_the_address_in_use() -> None:
    failed = DeviceEvent("bond0", "failed", "ip-config", "ip-config-unavailable")
    assert Tripwire(config(address="198.18.1.10/24")).event(failed) == IN_USE
    # With DHCP the client declines a taken lease and asks again: no verdict.
    assert Tripwire(config(dhcp=True)).event(failed) is None
    # Other devices and other reasons are not this.
    assert Tripwire(config()).event(replace(failed, interface="eth0")) is None
    assert Tripwire(config()).event(replace(failed, reason="dependency-failed")) is None


def test_arp_through_the_bond_waits_for_its_address_and_an_active_port() -> None:
    cfg = config()
    snap = netplan_start()
    assert not bond_ready_for_arp(cfg, snap)  # no bond yet
    bond = Device("bond0", "bond", "ip-config", True, ip4_addresses=(),
                  bond=BondRuntime("active-backup", "up", 100, active_port="eth0", primary=None,
                                     ports=()))  # fmt: skip
    with_bond = replace(snap, devices=(*snap.devices, bond))
    assert not bond_ready_for_arp(cfg, with_bond)  # its address still being probed (DAD)
    ready = replace(bond, ip4_addresses=("198.18.1.64/24",))
    assert bond_ready_for_arp(cfg, replace(snap, devices=(*snap.devices, ready)))
    no_port = replace(ready, bond=replace(ready.bond, active_port=None))  # type: ignore[arg-type]
    assert not bond_ready_for_arp(cfg, replace(snap, devices=(*snap.devices, no_port)))
