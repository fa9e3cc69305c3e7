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
    # The kernel's defaults are not named (NetworkManager 1.36 refuses arp_missed_max).
    assert got.nm_options() == {
        "miimon": "0", "arp_interval": "200", "arp_ip_target": "198.18.1.1",
        "arp_validate": "active",
    }  # fmt: skip
    assert got.netplan_parameters() == {
        "arp-interval": 200, "arp-ip-targets": ["198.18.1.1"], "arp-validate": "active",
    }  # fmt: skip


def test_every_key_as_netplan_names_it() -> None:
    got, problems = parse({"arp-interval": 100, "arp-ip-targets": ["198.18.1.1", "198.18.1.2"],
                           "arp-validate": "all", "arp-all-targets": "all",
                           "arp-missed-max": 3})  # fmt: skip
    assert problems == []
    assert got is not None and got.floor_ms == 300
    assert got.nm_options() == {
        "miimon": "0", "arp_interval": "100", "arp_ip_target": "198.18.1.1,198.18.1.2",
        "arp_validate": "all", "arp_all_targets": "all", "arp_missed_max": "3",
    }  # fmt: skip
    assert got.netplan_parameters()["arp-all-targets"] == "all"


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


# -- through the config, the profiles, netplan's YAML and the flags -------------------------

PSK_ENV = {"P": "correct horse battery"}


def arp_config(**params: Any) -> Any:
    from tightrope.core.config import Sources, parse_config

    return parse_config(
        {"ports": {"eth0": {"type": "ethernet"},
                   "wlan0": {"type": "wifi", "ssid": "TightropeLab", "psk-env": "P"}},
         "parameters": {"arp-interval": 200, **params},
         "ipv4": {"addresses": ["198.18.1.64/24"], "gateway": "198.18.1.1"}},
        Sources(env=PSK_ENV),
    )  # fmt: skip


def test_the_config_takes_the_arp_monitor_and_drops_the_mii_delays() -> None:
    cfg = arp_config()
    assert cfg.arp == ArpMonitor(200, (GW,), ArpValidate.ACTIVE)
    # No MII, so none of its delays (a primary would otherwise bring a 2000 ms up-delay).
    assert (cfg.primary, cfg.miimon, cfg.updelay, cfg.downdelay, cfg.peer_notif_delay) == (
        "eth0", 0, 0, 0, 0)
    assert cfg.num_grat_arp == 3  # the MAC still moves: the notifications stay


def test_the_config_refuses_an_mii_key_beside_arp_with_every_other_problem() -> None:
    from tightrope.core.config import Sources, parse_config
    from tightrope.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        parse_config({"ports": {"eth0": {"type": "ethernet"}},
                      "parameters": {"arp-interval": 200, "up-delay": 2000},
                      "ipv4": {"dhcp": True}}, Sources())  # fmt: skip
    fields = [p.field for p in err.value.problems]
    assert fields == ["parameters.up-delay", "parameters.arp-ip-targets"]


def test_the_bond_profile_asks_networkmanager_for_the_arp_monitor() -> None:
    from tightrope.core.profiles import desired_profiles, normalise_bond_options

    bond = desired_profiles(arp_config(**{"arp-missed-max": 3}))[0]
    assert bond.settings["bond"]["options"] == {
        "mode": "active-backup", "miimon": "0", "arp_interval": "200",
        "arp_ip_target": "198.18.1.1", "arp_validate": "active", "arp_missed_max": "3",
        "primary": "eth0", "fail_over_mac": "active", "num_grat_arp": "3",
    }  # fmt: skip
    # As NetworkManager may hand them back: numbers for names, miimon left out.
    back = {"mode": "1", "arp_interval": "200", "arp_ip_target": "198.18.1.1",
            "arp_validate": "1", "arp_missed_max": "3", "primary": "eth0",
            "fail_over_mac": "1", "num_unsol_na": "3"}  # fmt: skip
    assert normalise_bond_options(back) == normalise_bond_options(bond.settings["bond"]["options"])


def test_netplan_yaml_carries_the_arp_monitor() -> None:
    from tightrope.core.netplan_yaml import render

    text = render(arp_config(**{"arp-missed-max": 3}), reveal=False)
    assert "        arp-interval: 200\n        arp-ip-targets:\n        - 198.18.1.1\n" in text
    assert "        arp-validate: active\n" in text
    assert "          bond.arp_missed_max: '3'\n" in text  # no netplan key for it
    assert "mii-monitor-interval: 0" in text and "up-delay" not in text


def test_print_config_round_trips_the_arp_monitor() -> None:
    from tightrope.core.config import Sources, parse_config
    from tightrope.core.configdump import config_to_data

    cfg = arp_config(**{"arp-ip-targets": ["198.18.1.1", "198.18.1.2"], "arp-validate": "all"})
    data = config_to_data(cfg)
    data["ports"]["wlan0"]["psk-env"] = "P"
    assert parse_config(data, Sources(env=PSK_ENV)) == cfg


def test_flags_name_the_arp_monitor_as_netplan_does() -> None:
    from tightrope.cli.cmd_bond import flag_advice, flag_for, flags_to_data
    from tightrope.cli.main import build_parser

    base = ["bond", "--ethernet", "eth0", "--address", "198.18.1.64/24", "--gateway",
            "198.18.1.1"]  # fmt: skip
    args = build_parser().parse_args([*base, "--arp-interval", "100", "--arp-ip-targets",
                                      "198.18.1.1,198.18.1.2", "--arp-validate", "backup",
                                      "--arp-missed-max", "4"])  # fmt: skip
    params = flags_to_data(args)["parameters"]
    assert "mii-monitor-interval" not in params  # its default would be refused beside ARP
    got = [params[k] for k in ("arp-interval", "arp-ip-targets", "arp-validate", "arp-missed-max")]
    assert got == [100, ["198.18.1.1", "198.18.1.2"], "backup", 4]
    plain = flags_to_data(build_parser().parse_args(base))["parameters"]
    assert not {"mii-monitor-interval", "arp-interval"} & set(plain)  # the config's default
    mii = flags_to_data(build_parser().parse_args([*base, "--miimon", "100"]))["parameters"]
    assert mii["mii-monitor-interval"] == 100
    assert flag_for("parameters.arp-ip-targets[1]") == "--arp-ip-targets[1]"
    assert flag_advice("leave up-delay out, or arp-interval and the other arp-* keys") == (
        "leave --up-delay out, or --arp-interval and the other --arp-* flags")


def test_status_names_the_monitor_the_bond_runs() -> None:
    from dataclasses import replace

    from tightrope.cli.render import _monitor
    from tightrope.core.status import BondStatus

    mii = BondStatus(name="bond0", state="activated", profile="bond0", mode="active-backup",
                     mii_status="up", miimon_ms=100, active_port="eth0", primary="eth0",
                     fail_over_mac="active", ports=(), addresses=(), gateway=None,
                     dns=())  # fmt: skip
    assert _monitor(mii) == "MII up every 100 ms"
    arp = replace(mii, miimon_ms=0, arp_interval_ms=200, arp_targets=("198.18.1.1",),
                  arp_missed_max=2)  # fmt: skip
    assert _monitor(arp) == "ARP every 200 ms to 198.18.1.1, down after 2 missed (link up)"
