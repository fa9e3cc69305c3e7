from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from typing import Any

import pytest

from tightrope.core.config import Sources, parse_config
from tightrope.core.model import PortKind, Secret
from tightrope.core.yamltext import parse_yaml
from tightrope.errors import ConfigError

PSK = "lab-only-passphrase"
ENV = Sources(env={"WIFI_PSK": PSK})


def seed(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ports": {
            "eth0": {"type": "ethernet"},
            "wlan0": {"type": "wifi", "ssid": "TightropeLab", "psk-env": "WIFI_PSK"},
        },
        "ipv4": {
            "addresses": ["198.18.1.64/24"],
            "gateway": "198.18.1.1",
            "nameservers": {"addresses": ["198.18.1.1"]},
        },
    }
    data.update(changes)
    return data


def problems(data: Any, sources: Sources = ENV) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, sources)
    return {p.field: p.message for p in info.value.problems}


def test_seed_defaults() -> None:
    c = parse_config(seed(), ENV)
    assert c.name == "bond0"
    assert c.mode == "active-backup"
    assert c.primary == "eth0"  # the first ethernet port, so the bond fails back to the cable
    # A static gateway to ask: the ARP monitor, which also sees a dead path (measured default)
    assert c.arp is not None and c.miimon == 0 and c.updelay == 0
    assert (c.arp.interval_ms, c.arp.targets, c.arp.missed_max) == (
        100, (IPv4Address("198.18.1.1"),), 2)
    assert c.fail_over_mac == "active"  # a Wi-Fi port needs it
    assert [p.kind for p in c.ports] == [PortKind.ETHERNET, PortKind.WIFI]
    assert c.ports[1].psk == Secret(PSK)
    assert c.ipv4.addresses == (IPv4Interface("198.18.1.64/24"),)
    assert c.ipv4.gateway == IPv4Address("198.18.1.1")
    assert c.new_address == IPv4Address("198.18.1.64")
    assert c.ipv6.method == "auto"


def test_every_problem_at_once_naming_fields() -> None:
    data = seed(
        bond="bond0:x",
        parameters={"mode": "balance-rr", "up-delay": 150, "miimon": 5},
        mtu="big",
    )
    data["ports"]["wlan0"]["ssid"] = "s" * 33
    data["ipv4"]["gateway"] = "198.18.2.1"
    found = problems(data)
    assert set(found) >= {
        "bond",
        "parameters.mode",
        "parameters.up-delay",
        "parameters.miimon",
        "ports.wlan0.ssid",
        "ipv4.gateway",
        "mtu",
    }


def test_unknown_key_suggests_our_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(seed(parameters={"miimon": 100}), ENV)
    (p,) = info.value.problems
    assert p.field == "parameters.miimon"
    assert "mii-monitor-interval" in p.fix


@pytest.mark.parametrize(
    "name",
    ["", "a" * 16, ".", "..", "eth/0", "eth:0", "eth 0", "eth\t0"],
)
def test_interface_names_follow_kernel_rules(name: str) -> None:
    data = seed()
    data["ports"][name] = {"type": "ethernet"}
    assert f"ports.{name}" in problems(data)


def test_fifteen_byte_name_is_fine() -> None:
    data = seed()
    data["ports"]["e" * 15] = {"type": "ethernet"}
    assert len(parse_config(data, ENV).ports) == 3


@pytest.mark.parametrize(
    ("psk", "ok"),
    [
        ("1234567", False),
        ("12345678", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("a" * 64, True),  # 64 hex digits: a raw key
        ("g" * 64, False),
        ("pässwort-lang", False),
        ("tab\there-ok?", False),
    ],
)
def test_psk_rules(psk: str, ok: bool) -> None:
    sources = Sources(env={"WIFI_PSK": psk})
    if ok:
        parse_config(seed(), sources)
    else:
        found = problems(seed(), sources)
        assert list(found) == ["ports.wlan0.psk"]
        assert psk not in found["ports.wlan0.psk"]  # the secret is never echoed back


def test_inline_psk_needs_a_private_file() -> None:
    data = seed()
    data["ports"]["wlan0"] = {"type": "wifi", "ssid": "TightropeLab", "psk": PSK}
    parse_config(data, Sources(file_private=True))
    found = problems(data, Sources(file_private=False))
    assert "ports.wlan0.psk" in found


def test_psk_file_and_prompt_sources() -> None:
    data = seed()
    data["ports"]["wlan0"] = {"type": "wifi", "ssid": "TightropeLab", "psk-file": "/k"}
    files = {"/k": PSK + "\n"}
    c = parse_config(data, Sources(read_file=files.__getitem__))
    assert c.ports[1].psk == Secret(PSK)

    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    assert "ports.wlan0.psk-file" in problems(data, Sources(read_file=missing))
    del data["ports"]["wlan0"]["psk-file"]
    asked: list[str] = []
    c = parse_config(data, Sources(prompt=lambda ssid: asked.append(ssid) or PSK))
    assert asked == ["TightropeLab"] and c.ports[1].psk == Secret(PSK)
    assert "ports.wlan0.psk-file" in problems(data, Sources(prompt=None))


def test_two_psk_sources_is_ambiguous() -> None:
    data = seed()
    data["ports"]["wlan0"]["psk-file"] = "/k"
    assert "ports.wlan0" in problems(data)


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ("198.18.1.0/24", "ipv4.addresses[0]"),
        ("198.18.1.255/24", "ipv4.addresses[0]"),
        ("198.18.1.64/33", "ipv4.addresses[0]"),
        ("198.18.1.64", "ipv4.addresses[0]"),
        ("2001:db8::1/64", "ipv4.addresses[0]"),
    ],
)
def test_address_rules(address: str, field: str) -> None:
    data = seed()
    data["ipv4"]["addresses"] = [address]
    assert field in problems(data)


def test_gateway_outside_subnet_and_bad_dns() -> None:
    data = seed()
    data["ipv4"]["gateway"] = "198.19.0.1"
    data["ipv4"]["nameservers"] = {"addresses": ["198.18.1.1", "dns.example"]}
    found = problems(data)
    assert "198.18.1.0/24" in found["ipv4.gateway"]
    assert "ipv4.nameservers.addresses[1]" in found


def test_wifi_only_in_active_backup_and_needs_fail_over_mac_active() -> None:
    found = problems(seed(parameters={"mode": "802.3ad", "fail-over-mac-policy": "none"}))
    assert "parameters.mode" in found
    assert "parameters.fail-over-mac-policy" in found


def test_delays_are_multiples_of_miimon() -> None:
    found = problems(seed(parameters={"mii-monitor-interval": 100, "down-delay": 250}))
    assert list(found) == ["parameters.down-delay"]
    c = parse_config(seed(parameters={"up-delay": 2000, "down-delay": 200}), ENV)
    assert (c.updelay, c.downdelay) == (2000, 200)


def test_primary_must_be_a_port_and_can_be_switched_off() -> None:
    assert "parameters.primary" in problems(seed(parameters={"primary": "eth1"}))
    no_primary = parse_config(seed(parameters={"primary": None}), ENV)
    assert no_primary.primary is None and no_primary.updelay == 0
    assert parse_config(seed(parameters={"mii-monitor-interval": 300}), ENV).updelay == 1800


def test_missing_and_duplicate_ports() -> None:
    assert "ports" in problems(seed(ports={}))
    assert "ports" in problems({"ipv4": {"dhcp": True}})
    with pytest.raises(ConfigError) as info:
        parse_yaml("ports:\n  eth0: {type: ethernet}\n  eth0: {type: ethernet}\n")
    assert "duplicate key 'eth0'" in info.value.problems[0].message


def test_dhcp_and_ipv6() -> None:
    c = parse_config(seed(ipv4={"dhcp": True, "dhcp-identifier": "duid"}, ipv6="disabled"), ENV)
    assert c.ipv4.dhcp and c.ipv4.dhcp_identifier == "duid" and c.new_address is None
    assert c.ipv6.method == "disabled"
    c = parse_config(seed(ipv6={"addresses": ["2001:db8::64/64"]}), ENV)
    assert c.ipv6.method == "static"
    assert "ipv4.gateway" in problems(seed(ipv4={"dhcp": True, "gateway": "198.18.1.1"}))
    assert "ipv6.method" in problems(seed(ipv6={"method": "slaac"}))


def test_secret_never_in_repr() -> None:
    c = parse_config(seed(), ENV)
    assert PSK not in repr(c) and PSK not in str(c.ports[1])


def test_print_config_round_trips_an_explicit_zero_updelay() -> None:
    from tightrope.core.configdump import config_to_data

    c = parse_config(seed(parameters={"up-delay": 0}), ENV)
    again = parse_config(config_to_data(c), ENV)
    assert again.updelay == 0 and again == c


def test_without_a_static_gateway_or_with_an_mii_key_the_bond_watches_the_link() -> None:
    dhcp = parse_config(seed(ipv4={"dhcp": True}), ENV)  # no target to ask
    assert (dhcp.arp, dhcp.miimon, dhcp.updelay) == (None, 100, 2000)
    for key, value in (("mii-monitor-interval", 100), ("up-delay", 2000), ("down-delay", 0),
                       ("peer-notify-delay", 200)):  # fmt: skip
        c = parse_config(seed(parameters={key: value}), ENV)
        assert c.arp is None and c.miimon == 100, key
    rr = parse_config(seed(ports={"eth0": {"type": "ethernet"}, "eth1": {"type": "ethernet"}},
                           parameters={"mode": "balance-rr"}), ENV)  # fmt: skip
    assert rr.arp is None and rr.miimon == 100  # the default is measured in active-backup only
    arp = parse_config(seed(), ENV)
    assert (arp.num_grat_arp, arp.peer_notif_delay) == (3, 0)  # spaced by the ARP interval


def test_moving_mac_gets_more_peer_notifications_spaced_by_miimon() -> None:
    mii = {"mii-monitor-interval": 100}
    c = parse_config(seed(parameters=mii), ENV)  # Wi-Fi port: fail_over_mac=active
    assert (c.fail_over_mac, c.num_grat_arp, c.peer_notif_delay) == ("active", 3, 200)
    wired = parse_config(seed(ports={"eth0": {"type": "ethernet"}, "eth1": {"type": "ethernet"}},
                              parameters=mii), ENV)  # fmt: skip
    assert (wired.fail_over_mac, wired.num_grat_arp, wired.peer_notif_delay) == ("none", 1, 0)
    slow = parse_config(seed(parameters={"mii-monitor-interval": 150}), ENV)
    assert slow.peer_notif_delay == 150  # our default fitted to their interval
    mine = parse_config(seed(parameters={**mii, "gratuitous-arp": 1, "peer-notify-delay": 0}),
                        ENV)  # fmt: skip
    assert (mine.num_grat_arp, mine.peer_notif_delay) == (1, 0)


def test_peer_notification_parameters_are_checked() -> None:
    found = problems(seed(parameters={"gratuitous-arp": 300, "peer-notify-delay": 250}))
    assert sorted(found) == ["parameters.gratuitous-arp", "parameters.peer-notify-delay"]
    with pytest.raises(ConfigError) as info:  # the sysfs name points to ours
        parse_config(seed(parameters={"num_grat_arp": 3}), ENV)
    assert "gratuitous-arp" in info.value.problems[0].fix
