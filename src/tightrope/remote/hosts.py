"""`--hosts FILE`: one box per line, or YAML with a new address per box. Pure."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from ipaddress import IPv4Interface
from typing import Any

import yaml

from tightrope.core.model import BondConfig
from tightrope.errors import UsageError
from tightrope.remote.target import Target, parse_target


@dataclass(frozen=True)
class HostEntry:
    target: Target
    address: IPv4Interface | None = None  # this box's bond address, instead of the config's

    def adapt(self, config: BondConfig) -> BondConfig:
        if self.address is None:
            return config
        gw = config.ipv4.gateway
        if gw is not None and gw not in self.address.network:
            raise UsageError(f"--hosts {self.target}: address {self.address} is not in the "
                             f"gateway {gw}'s subnet", hint="give an address in that subnet")
        ipv4 = dataclasses.replace(config.ipv4, addresses=(self.address,))
        return dataclasses.replace(config, ipv4=ipv4)


def parse_hosts_file(text: str) -> list[HostEntry]:
    """Either plain lines (`pi@192.168.1.50`, # comments) or YAML:
    `- {host: pi@192.168.1.50, address: 192.168.1.64/24}`."""
    stripped = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in stripped if ln]
    if lines and not lines[0].startswith("-") and ":" not in lines[0].split("@")[-1]:
        return [HostEntry(parse_target(ln)) for ln in lines]
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"--hosts: not a list of hosts nor YAML: {exc}") from None
    if not isinstance(data, list):
        raise UsageError("--hosts: give one host per line, or a YAML list of {host, address}")
    out = []
    for i, item in enumerate(data):
        if isinstance(item, str):
            out.append(HostEntry(parse_target(item)))
            continue
        if not isinstance(item, dict) or "host" not in item:
            raise UsageError(f"--hosts entry {i + 1}: needs `host:`")
        address = None
        if item.get("address") is not None:
            try:
                address = IPv4Interface(str(item["address"]))
            except ValueError:
                raise UsageError(f"--hosts entry {i + 1}: {item['address']!r} is not "
                                 "address/prefix") from None  # fmt: skip
        out.append(HostEntry(parse_target(str(item["host"])), address))
    return out
