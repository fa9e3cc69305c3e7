"""The desired state: one bond, its ports and its addresses. Frozen, typed, validated.

Instances are only made by tightrope.core.config (which validates first), so code that holds
a BondConfig may assume it is coherent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface

from tightrope.core.monitor import ArpMonitor

BOND_MODES = (
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
)
FAIL_OVER_MAC_POLICIES = ("none", "active", "follow")


class Secret:
    """A value that must never be printed: repr, str and equality never reveal it.

    Only NetworkManager's settings (and the root-only backups) ever see `reveal()`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


class PortKind(str, Enum):
    ETHERNET = "ethernet"
    WIFI = "wifi"


@dataclass(frozen=True)
class PskSource:
    """Where a Wi-Fi PSK comes from, kept so --print-config can say it without the value."""

    kind: str  # "file", "env", "inline", "prompt"
    ref: str = ""  # the path or variable name; "" for inline and prompt


@dataclass(frozen=True)
class Port:
    interface: str
    kind: PortKind
    ssid: str | None = None
    psk: Secret | None = field(default=None, compare=True)
    psk_source: PskSource | None = None

    @property
    def is_wifi(self) -> bool:
        return self.kind is PortKind.WIFI


@dataclass(frozen=True)
class IPv4Config:
    dhcp: bool = False
    addresses: tuple[IPv4Interface, ...] = ()
    gateway: IPv4Address | None = None
    dns: tuple[IPv4Address, ...] = ()
    search: tuple[str, ...] = ()
    dhcp_identifier: str | None = None  # "mac", "duid" or a fixed client-id string


@dataclass(frozen=True)
class IPv6Config:
    method: str = "auto"  # auto, disabled, static
    addresses: tuple[IPv6Interface, ...] = ()
    gateway: IPv6Address | None = None
    dns: tuple[IPv6Address, ...] = ()


@dataclass(frozen=True)
class BondConfig:
    name: str
    ports: tuple[Port, ...]
    mode: str = "active-backup"
    primary: str | None = None
    miimon: int = 100
    updelay: int = 0
    downdelay: int = 0
    fail_over_mac: str = "none"
    num_grat_arp: int = 1  # peer notifications (gratuitous ARPs) after a switch
    peer_notif_delay: int = 0  # ms between them
    arp: ArpMonitor | None = None  # the ARP monitor instead of MII (miimon is then 0)
    ipv4: IPv4Config = field(default_factory=IPv4Config)
    ipv6: IPv6Config = field(default_factory=IPv6Config)
    mtu: int | None = None

    def port(self, interface: str) -> Port | None:
        return next((p for p in self.ports if p.interface == interface), None)

    @property
    def wifi_ports(self) -> tuple[Port, ...]:
        return tuple(p for p in self.ports if p.is_wifi)

    @property
    def new_address(self) -> IPv4Address | None:
        """Where the admin will find the box after the change (None with DHCP)."""
        return self.ipv4.addresses[0].ip if self.ipv4.addresses else None
