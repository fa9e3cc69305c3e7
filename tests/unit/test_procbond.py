"""The /proc/net/bonding parser on kernel text (fixtures in tests/fixtures/procbond)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tightrope.core.procbond import parse_proc_bond
from tightrope.core.snapshot import BondPortRuntime

FIXTURES = Path(__file__).parent.parent / "fixtures" / "procbond"


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_active_backup_failed_over_to_wifi() -> None:
    bond = parse_proc_bond(text("kernel-sample-active-backup.txt"))
    assert bond.mode == "active-backup"
    assert bond.fail_over_mac == "active"
    assert bond.primary == "eth0"
    assert bond.active_port == "wlan0"
    assert bond.mii_status == "up"
    assert bond.mii_interval_ms == 100
    assert (bond.updelay_ms, bond.downdelay_ms) == (2000, 0)
    assert bond.ports == (
        BondPortRuntime("eth0", "down", None, 3, "DC:A6:32:01:02:03"),
        BondPortRuntime("wlan0", "up", None, 0, "DC:A6:32:04:05:06"),
    )


def test_other_modes_have_no_primary_and_no_fail_over_mac() -> None:
    bond = parse_proc_bond(text("kernel-sample-802.3ad.txt"))
    assert (bond.mode, bond.primary, bond.active_port, bond.fail_over_mac) == (
        "802.3ad", None, None, None,
    )  # fmt: skip
    assert bond.ports == ()


def test_every_fixture_parses() -> None:
    files = sorted(FIXTURES.glob("*.txt"))
    assert files
    for file in files:
        assert parse_proc_bond(file.read_text()).mode


def test_no_primary_and_no_active_port_read_as_none() -> None:
    bond = parse_proc_bond(
        "Bonding Mode: fault-tolerance (active-backup)\n"
        "Primary Slave: None\nCurrently Active Slave: None\nMII Status: down\n"
        "MII Polling Interval (ms): 100\n"
    )
    assert (bond.primary, bond.active_port, bond.fail_over_mac) == (None, None, "none")


def test_port_speed_is_kept_as_the_kernel_writes_it() -> None:
    bond = parse_proc_bond(
        "Bonding Mode: fault-tolerance (active-backup)\n\n"
        "Slave Interface: eth0\nMII Status: up\nSpeed: 1000 Mbps\nDuplex: full\n"
        "Link Failure Count: 0\nPermanent HW addr: 52:54:00:12:34:56\n"
    )
    assert bond.ports[0].speed == "1000 Mbps"


@pytest.mark.parametrize(
    "bad",
    ["", "hello", "Bonding Mode: something new\n", "Bonding Mode: transmit load balancing\n"
     "MII Polling Interval (ms): lots\n"],
)  # fmt: skip
def test_garbage_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_proc_bond(bad)


def test_the_arp_monitor_is_read_with_its_targets() -> None:
    """Printed as bond_procfs.c does when arp_interval > 0 (kernel 5.18+: ARP Missed Max)."""
    bond = parse_proc_bond(text("kernel-sample-arp.txt"))
    assert (bond.mii_interval_ms, bond.arp_interval_ms, bond.arp_missed_max) == (0, 200, 2)
    assert bond.arp_targets == ("198.18.1.1", "198.18.1.2")
    assert bond.active_port == "eth0"


def test_without_the_arp_monitor_there_is_none() -> None:
    bond = parse_proc_bond(text("kernel-sample-active-backup.txt"))
    assert (bond.arp_interval_ms, bond.arp_targets, bond.arp_missed_max) == (0, (), None)
