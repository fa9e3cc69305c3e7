"""BondConfig <-> the plain data of a YAML file (for `bond --print-config`, and a
transaction's inputs). The data never holds a PSK: it travels apart and joins here."""

from __future__ import annotations

import dataclasses
from typing import Any

from tightrope.core.config import Sources, parse_config
from tightrope.core.model import BondConfig, Port, Secret


def config_to_data(config: BondConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"bond": config.name, "ports": {}}
    for port in config.ports:
        data["ports"][port.interface] = _port(port)
    params: dict[str, Any] = {"mode": config.mode, "primary": config.primary}
    if config.arp is None:
        params["mii-monitor-interval"] = config.miimon
        # Always written: a 0 left out would read back as the default (2000 with a primary).
        params["up-delay"] = config.updelay
        params["down-delay"] = config.downdelay
    params["fail-over-mac-policy"] = config.fail_over_mac
    params["gratuitous-arp"] = config.num_grat_arp
    if config.arp is None:
        params["peer-notify-delay"] = config.peer_notif_delay
    else:  # the MII keys are refused beside it (core.monitor)
        params.update(config.arp.netplan_parameters())
        params["arp-missed-max"] = config.arp.missed_max
    data["parameters"] = params
    v4 = config.ipv4
    ipv4: dict[str, Any] = {}
    if v4.dhcp:
        ipv4["dhcp"] = True
        if v4.dhcp_identifier:
            ipv4["dhcp-identifier"] = v4.dhcp_identifier
    else:
        ipv4["addresses"] = [str(a) for a in v4.addresses]
        if v4.gateway:
            ipv4["gateway"] = str(v4.gateway)
    ns: dict[str, Any] = {}
    if v4.dns:
        ns["addresses"] = [str(a) for a in v4.dns]
    if v4.search:
        ns["search"] = list(v4.search)
    if ns:
        ipv4["nameservers"] = ns
    data["ipv4"] = ipv4
    v6 = config.ipv6
    if v6.method == "static":
        v6data: dict[str, Any] = {"addresses": [str(a) for a in v6.addresses]}
        if v6.gateway:
            v6data["gateway"] = str(v6.gateway)
        if v6.dns:
            v6data["nameservers"] = {"addresses": [str(a) for a in v6.dns]}
        data["ipv6"] = v6data
    else:
        data["ipv6"] = v6.method
    if config.mtu:
        data["mtu"] = config.mtu
    return data


def _port(port: Port) -> dict[str, Any]:
    out: dict[str, Any] = {"type": port.kind.value}
    if port.is_wifi:
        out["ssid"] = port.ssid
        src = port.psk_source
        if src is not None and src.kind == "file":
            out["psk-file"] = src.ref
        elif src is not None and src.kind == "env":
            out["psk-env"] = src.ref
        # An inline or typed PSK is never written back: the file would carry the secret.
    return out


def config_with_secrets(data: dict[str, Any], secrets: dict[str, str]) -> BondConfig:
    config = parse_config(data, Sources(resolve_psk=False), origin="transaction inputs")
    ports = tuple(
        dataclasses.replace(p, psk=Secret(secrets[p.interface]))
        if p.is_wifi and p.interface in secrets
        else p
        for p in config.ports
    )
    return dataclasses.replace(config, ports=ports)
