"""Single-value rules. Each returns None when the value is fine, else (message, fix)."""

from __future__ import annotations

import re
from ipaddress import IPv4Interface

Verdict = tuple[str, str] | None

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HOSTNAME_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
IFNAMSIZ = 16  # the kernel's limit, including the terminating NUL


def interface_name(name: str) -> Verdict:
    # The kernel's dev_valid_name(): 1-15 bytes, not "." or "..", no "/", ":" or whitespace.
    fix = "use the kernel's name for the device, as `ip link` shows it (e.g. eth0, wlan0)"
    if not name:
        return ("is empty", fix)
    if len(name.encode("utf-8", "surrogatepass")) >= IFNAMSIZ:
        return (f"{name!r} is longer than {IFNAMSIZ - 1} bytes", fix)
    if name in (".", ".."):
        return (f"{name!r} is not a valid interface name", fix)
    bad = sorted({c for c in name if c in "/:" or c.isspace() or not c.isprintable()})
    if bad:
        return (f"{name!r} contains characters the kernel refuses: {''.join(bad)!r}", fix)
    return None


def ssid(value: str) -> Verdict:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size == 0:
        return ("is empty", "give the network's name exactly as the access point broadcasts it")
    if size > 32:
        return (
            f"is {size} bytes long; an SSID has at most 32",
            "check the network's name (a shorter SSID, or the right one)",
        )
    return None


def psk(value: str) -> Verdict:
    """WPA-PSK: a passphrase of 8-63 printable ASCII characters, or 64 hex digits."""
    fix = "use the Wi-Fi passphrase (8-63 printable ASCII characters) or the 64-hex-digit key"
    if _HEX64.fullmatch(value):
        return None
    n = len(value)
    if n == 64:
        return ("is 64 characters but not all hex digits", fix)
    if n < 8 or n > 63:
        return (f"has {n} characters; a WPA passphrase has 8 to 63", fix)
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        return ("contains characters other than printable ASCII", fix)
    return None


def host_address(iface: IPv4Interface) -> Verdict:
    net = iface.network
    if net.prefixlen >= 31:  # RFC 3021 point-to-point and /32 host routes have no such addresses
        return None
    if iface.ip == net.network_address:
        return (
            f"{iface} is the network address of {net}",
            f"pick a host address inside {net}, e.g. {next(net.hosts())}/{net.prefixlen}",
        )
    if iface.ip == net.broadcast_address:
        return (
            f"{iface} is the broadcast address of {net}",
            f"pick a host address inside {net}, e.g. {next(net.hosts())}/{net.prefixlen}",
        )
    return None


def search_domain(value: str) -> Verdict:
    labels = value.rstrip(".").split(".")
    if not value or len(value) > 253 or not all(_HOSTNAME_LABEL.fullmatch(lb) for lb in labels):
        return (f"{value!r} is not a valid DNS domain", "use a domain such as home.lan")
    return None
