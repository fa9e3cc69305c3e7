"""The bond as netplan YAML: what netplan's generator needs to render our exact profiles."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface

import yaml

from tests.unit.builders import netplan_start
from tests.unit.test_plan import PSK, seed_config
from tightrope.core.model import IPv4Config
from tightrope.core.netplan_yaml import MASK, carried_over, is_own_file, own_file, render
from tightrope.core.plan import make_plan
from tightrope.core.profiles import profile_uuid


def _doc(**kw: object) -> dict[str, object]:
    data = yaml.safe_load(render(seed_config(), **kw))  # type: ignore[arg-type]
    assert isinstance(data, dict)
    return data["network"]  # type: ignore[no-any-return]


def test_ports_have_ids_of_their_own_matched_by_name() -> None:
    net = _doc(reveal=True)
    eth = net["ethernets"]["bond0-port-eth0"]  # type: ignore[index]
    assert eth["match"] == {"name": "eth0"}
    assert "eth0" not in net["ethernets"] and "wlan0" not in net["wifis"]  # type: ignore[operator]
    bond = net["bonds"]["bond0"]  # type: ignore[index]
    assert bond["interfaces"] == ["bond0-port-eth0", "bond0-port-wlan0"]
    # The kernel needs the interface as primary, not our stanza ID.
    assert "primary" not in bond["parameters"]
    assert bond["networkmanager"]["passthrough"]["bond.primary"] == "eth0"


def test_uuids_and_names_are_the_profiles_own() -> None:
    net = _doc()
    bond = net["bonds"]["bond0"]  # type: ignore[index]
    assert bond["networkmanager"]["uuid"] == profile_uuid("bond0")
    ap = net["wifis"]["bond0-port-wlan0"]["access-points"]["TightropeLab"]  # type: ignore[index]
    assert ap["networkmanager"]["uuid"] == profile_uuid("bond0", "wlan0")
    assert ap["networkmanager"]["name"] == "bond0-port-wlan0"
    assert ap["networkmanager"]["passthrough"]["wifi.powersave"] == "2"


def test_psk_only_when_revealed() -> None:
    assert PSK not in render(seed_config()) and MASK in render(seed_config())
    assert PSK in render(seed_config(), reveal=True)


def test_static_addressing_goes_through_as_networkmanager_has_it() -> None:
    bond = _doc()["bonds"]["bond0"]  # type: ignore[index]
    assert bond["addresses"] == ["198.18.1.64/24"]
    through = bond["networkmanager"]["passthrough"]
    assert through["ipv4.gateway"] == "198.18.1.1"
    assert through["ipv4.may-fail"] == "false" and through["ipv4.dad-timeout"] == "500"
    assert through["ipv6.method"] == "auto"
    assert bond["parameters"]["mode"] == "active-backup"


def test_dhcp_bond() -> None:
    config = replace(seed_config(), ipv4=IPv4Config(dhcp=True, dhcp_identifier="mac"))
    bond = yaml.safe_load(render(config))["network"]["bonds"]["bond0"]
    assert bond["dhcp4"] is True and "addresses" not in bond
    through = bond["networkmanager"]["passthrough"]
    assert through["ipv4.dhcp-client-id"] == "mac" and "ipv4.gateway" not in through


def test_hostile_ssid_stays_one_yaml_key() -> None:
    port = replace(seed_config().ports[1], ssid='a: "b"\n- c # d')
    config = replace(seed_config(), ports=(seed_config().ports[0], port),
                     ipv4=IPv4Config(addresses=(IPv4Interface("198.18.1.64/24"),),
                                     gateway=IPv4Address("198.18.1.1")))  # fmt: skip
    wifi = yaml.safe_load(render(config))["network"]["wifis"]["bond0-port-wlan0"]
    assert list(wifi["access-points"]) == ['a: "b"\n- c # d']


def test_own_file() -> None:
    assert own_file("bond0") == "/etc/netplan/90-tightrope-bond0.yaml"
    assert is_own_file(own_file("bond7"))
    assert not is_own_file("/etc/netplan/50-cloud-init.yaml")
    assert not is_own_file("/run/netplan/90-tightrope-bond0.yaml")


TRIXIE = """\
network:
  version: 2
  wifis:
    wlan0:
      optional: true
      regulatory-domain: "GB"
      access-points:
        "TightropeLab": {password: "x"}
"""


def test_regulatory_domain_moves_into_our_wifi_stanza() -> None:
    path = "/etc/netplan/50-cloud-init.yaml"
    carry = carried_over([(path, "wifis", "wlan0", "wlan0")], {path: TRIXIE})
    assert carry == {"wlan0": {"regulatory-domain": "GB"}}
    wifi = yaml.safe_load(render(seed_config(), carry=carry))["network"]["wifis"]
    assert wifi["bond0-port-wlan0"]["regulatory-domain"] == "GB"
    assert "optional" not in wifi["bond0-port-wlan0"]


def test_a_reapply_keeps_what_our_own_file_carried() -> None:
    path = own_file("bond0")
    ours = render(seed_config(), carry={"wlan0": {"regulatory-domain": "GB"}})
    snap = replace(netplan_start(), netplan_files={path: ours})
    plan = make_plan(seed_config(), snap)
    assert "regulatory-domain: GB" in plan.storage.netplan_yaml
