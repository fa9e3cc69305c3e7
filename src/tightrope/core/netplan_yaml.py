"""The bond as netplan YAML, for boxes whose network comes from netplan. Pure.

On such a box netplan is the source of truth: NetworkManager's profiles are rendered from
/etc/netplan at every boot (Debian: `netplan-*` files in /run; Ubuntu and Raspberry Pi OS
trixie: NetworkManager stores its own profiles as netplan YAML too). So the commit writes the
bond as netplan YAML in a file of tightrope's own, and netplan renders the profiles.

Three choices, each for a reason seen in the lab or in netplan's generator (0.106):
- Ports get stanza IDs of their own (`bond0-port-eth0`, matched by name), never the
  interface name: netplan merges stanzas with the same ID across files, so an `eth0:` of ours
  next to the `eth0:` with `dhcp4: true` still in 50-cloud-init.yaml (a power cut between the
  two writes) would merge into a bond port with an address, and netplan generate would fail at
  boot, leaving the box with no network at all. With IDs of our own both render, and ours
  wins (autoconnect-priority).
- `networkmanager: uuid/name` keep the profiles' UUIDs and names: netplan's rendering takes
  over from the profiles that carried the bond during the transaction without NetworkManager
  seeing a new profile, so nothing is re-activated and a re-plan finds nothing to do.
- What netplan writes differently from our profiles, or not at all, goes in `passthrough`
  (NetworkManager's own keys): the gateway (netplan renders `routes` as a route, not as
  ipv4.gateway), the primary port (netplan would write our stanza ID, not the interface),
  address probing, IPv6's method, Wi-Fi power saving, peer_notif_delay, the DHCP client id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from tightrope.core.model import BondConfig, Port
from tightrope.core.ownership import OWN_DIR as OWN_DIR
from tightrope.core.ownership import is_own_file as is_own_file
from tightrope.core.ownership import names_own_file as names_own_file
from tightrope.core.ownership import own_file as own_file
from tightrope.core.ownership import port_profile_id, profile_uuid
from tightrope.core.profiles import DAD_TIMEOUT_MS

MASK = "********"
# Ports outrank any other profile netplan renders for the same interface (see above).
PORT_PRIORITY = 10


# Keys of a port's old stanza that describe the device itself, not its addressing: they move
# into our stanza for that port when the old one is removed. Raspberry Pi OS trixie's
# cloud-init writes `regulatory-domain` on wlan0; without it the radio falls back to the
# world domain (fewer channels) after the commit.
CARRIED: Mapping[str, tuple[str, ...]] = {"wifis": ("regulatory-domain",)}

Carry = Mapping[str, Mapping[str, Any]]  # interface -> carried key -> value


def carried_over(
    stanzas: Iterable[tuple[str, str, str, str]], files: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """From the stanzas the commit removes (path, section, key, interface) and the files'
    text: what each port's new stanza takes over (see CARRIED)."""
    out: dict[str, dict[str, Any]] = {}
    for path, section, key, interface in stanzas:
        keys = CARRIED.get(section, ())
        try:
            doc = yaml.safe_load(files.get(path, ""))
        except yaml.YAMLError:
            continue
        body = doc.get("network", {}).get(section, {}).get(key) if isinstance(doc, dict) else None
        if not isinstance(body, dict):
            continue
        for k in keys:
            value = body.get(k)
            if isinstance(value, str | int | bool):
                out.setdefault(interface, {})[k] = value
    return out


def bond_document(
    config: BondConfig, *, reveal: bool = False, carry: Carry | None = None
) -> dict[str, Any]:
    """The YAML document as data. `reveal=False` masks the PSK (for plans and logs)."""
    ethernets: dict[str, Any] = {}
    wifis: dict[str, Any] = {}
    for port in config.ports:
        pid = port_profile_id(config.name, port.interface)
        stanza = _wifi(config, port, reveal) if port.is_wifi else _ethernet(config, port)
        for k, v in (carry or {}).get(port.interface, {}).items():
            stanza[k] = v
        (wifis if port.is_wifi else ethernets)[pid] = stanza
    network: dict[str, Any] = {"version": 2}
    if ethernets:
        network["ethernets"] = ethernets
    if wifis:
        network["wifis"] = wifis
    network["bonds"] = {config.name: _bond(config)}
    return {"network": network}


def render(config: BondConfig, *, reveal: bool = False, carry: Carry | None = None) -> str:
    head = (
        f"# Written by tightrope: the bond {config.name} and its ports.\n"
        "# `tightrope undo` removes this file and restores the files it replaced.\n"
    )
    body = yaml.safe_dump(
        bond_document(config, reveal=reveal, carry=carry),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
    return head + body


def _nm(uuid: str, name: str, passthrough: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"uuid": uuid, "name": name}
    if passthrough:
        out["passthrough"] = dict(passthrough)
    return out


def _port_passthrough() -> dict[str, str]:
    return {"connection.autoconnect-priority": str(PORT_PRIORITY)}


def _ethernet(config: BondConfig, port: Port) -> dict[str, Any]:
    pid = port_profile_id(config.name, port.interface)
    return {
        "renderer": "NetworkManager",
        "match": {"name": port.interface},
        "networkmanager": _nm(profile_uuid(config.name, port.interface), pid, _port_passthrough()),
    }


def _wifi(config: BondConfig, port: Port, reveal: bool) -> dict[str, Any]:
    pid = port_profile_id(config.name, port.interface)
    psk = MASK
    if reveal and port.psk is not None:
        psk = port.psk.reveal()
    passthrough = _port_passthrough()
    # 2 = disable: power saving on a backup radio delays the first frames after a failover.
    passthrough["wifi.powersave"] = "2"
    access_point: dict[str, Any] = {
        "password": psk,
        "networkmanager": _nm(profile_uuid(config.name, port.interface), pid, passthrough),
    }
    return {
        "renderer": "NetworkManager",
        "match": {"name": port.interface},
        "access-points": {port.ssid or "": access_point},
    }


def _bond(config: BondConfig) -> dict[str, Any]:
    v4, v6 = config.ipv4, config.ipv6
    ports = [port_profile_id(config.name, p.interface) for p in config.ports]
    stanza: dict[str, Any] = {"renderer": "NetworkManager", "interfaces": ports}
    if config.mtu:
        stanza["mtu"] = config.mtu
    addresses = [str(a) for a in v4.addresses]
    if v6.method == "static":
        addresses += [str(a) for a in v6.addresses]
    if v4.dhcp:
        stanza["dhcp4"] = True
    if addresses:
        stanza["addresses"] = addresses
    dns = [str(a) for a in v4.dns] + [str(a) for a in v6.dns]
    if dns or v4.search:
        servers: dict[str, Any] = {}
        if dns:
            servers["addresses"] = dns
        if v4.search:
            servers["search"] = list(v4.search)
        stanza["nameservers"] = servers
    params: dict[str, Any] = {"mode": config.mode, "mii-monitor-interval": config.miimon}
    if config.updelay:
        params["up-delay"] = config.updelay
    if config.downdelay:
        params["down-delay"] = config.downdelay
    if config.fail_over_mac != "none":
        params["fail-over-mac-policy"] = config.fail_over_mac
    if config.num_grat_arp != 1:
        params["gratuitous-arp"] = config.num_grat_arp
    if config.arp is not None:
        params.update(config.arp.netplan_parameters())
    stanza["parameters"] = params
    passthrough = _bond_passthrough(config)
    stanza["networkmanager"] = _nm(profile_uuid(config.name), config.name, passthrough)
    return stanza


def _bond_passthrough(config: BondConfig) -> dict[str, str]:
    v4, v6 = config.ipv4, config.ipv6
    out = {"connection.autoconnect-slaves": "1"}
    if config.primary:
        out["bond.primary"] = config.primary
    if config.peer_notif_delay:
        out["bond.peer_notif_delay"] = str(config.peer_notif_delay)
    if config.arp is not None and "arp_missed_max" in config.arp.nm_options():
        out["bond.arp_missed_max"] = str(config.arp.missed_max)  # no netplan key for it
    if v4.dhcp:
        if v4.dhcp_identifier:
            out["ipv4.dhcp-client-id"] = v4.dhcp_identifier
    else:
        if v4.gateway:
            out["ipv4.gateway"] = str(v4.gateway)
        out["ipv4.dad-timeout"] = str(DAD_TIMEOUT_MS)
        out["ipv4.may-fail"] = "false"
    out["ipv6.method"] = {"auto": "auto", "disabled": "disabled", "static": "manual"}[v6.method]
    if v6.method == "static" and v6.gateway:
        out["ipv6.gateway"] = str(v6.gateway)
    return out
