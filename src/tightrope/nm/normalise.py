"""NetworkManager settings (as D-Bus hands them over) -> JSON types, as core/snapshot.py
describes. Pure: input is plain Python data after `unwrap`; nothing here touches a bus.

The conventions, in one place (to_dbus.py inverts each of them):
- SSIDs: bytes -> text (UTF-8; undecodable bytes kept via surrogateescape so they survive).
- MAC-like byte arrays: "AA:BB:CC:DD:EE:FF".
- ipv4.dns (au, network byte order) -> dotted strings; ipv6.dns (aay) -> IPv6 text.
- ipv4/ipv6 `addresses` and `routes` (deprecated, duplicated by address-data / route-data)
  are dropped: keeping both would make every comparison see two truths.
- Any other byte array -> list of ints; tuples (D-Bus structs) -> lists.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from typing import Any, Literal

ByteOrder = Literal["little", "big"]

SSID_KEYS = frozenset({("802-11-wireless", "ssid"), ("802-11-olpc-mesh", "ssid")})
MAC_KEYS = frozenset(
    {
        ("802-3-ethernet", "mac-address"),
        ("802-3-ethernet", "cloned-mac-address"),
        ("802-11-wireless", "mac-address"),
        ("802-11-wireless", "cloned-mac-address"),
        ("802-11-wireless", "bssid"),
        ("bridge", "mac-address"),
        ("bridge", "group-address"),
        ("infiniband", "mac-address"),
        ("wimax", "mac-address"),
        ("bluetooth", "bdaddr"),
        ("wpan", "mac-address"),
        ("802-11-olpc-mesh", "dhcp-anycast-address"),
    }
)
DROPPED_KEYS = frozenset(
    {("ipv4", "addresses"), ("ipv4", "routes"), ("ipv6", "addresses"), ("ipv6", "routes")}
)


def unwrap(value: Any) -> Any:
    """Strip Variants (dbus-fast's, wire's) recursively, leaving bytes, ints, strs, lists
    and dicts.

    Byte arrays become bytes: dbus-fast's compiled unmarshaller returns bytes, its
    pure-Python one (what runs from the zipapp) bytearray. Values from the blocking client
    (lean.py) have no Variants: dbus-fast is then not even imported, and not imported here."""
    from tightrope.nm.wire import Variant  # what to_dbus makes

    dbus_fast = sys.modules.get("dbus_fast")
    return _unwrap(value, (Variant, dbus_fast.Variant) if dbus_fast is not None else Variant)


def _unwrap(value: Any, variant: Any) -> Any:
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, variant):
        return _unwrap(value.value, variant)
    if isinstance(value, dict):
        return {k: _unwrap(v, variant) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unwrap(v, variant) for v in value]
    return value


_BYTES = (bytes, bytearray, list)


def format_mac(raw: bytes | bytearray | list[int]) -> str:
    return ":".join(f"{b:02X}" for b in raw)


def ssid_text(raw: bytes | bytearray | list[int]) -> str:
    return bytes(raw).decode("utf-8", errors="surrogateescape")


def ip4_from_u32(value: int, byteorder: ByteOrder = sys.byteorder) -> str:
    # NetworkManager sends in_addr_t as a host-endian uint32 holding network-order bytes.
    return socket.inet_ntoa(value.to_bytes(4, byteorder))


def ip6_text(raw: bytes | list[int]) -> str:
    return socket.inet_ntop(socket.AF_INET6, bytes(raw))


def normalise_settings(
    settings: Mapping[str, Mapping[str, Any]], byteorder: ByteOrder = sys.byteorder
) -> dict[str, dict[str, Any]]:
    """Unwrapped GetSettings output -> the JSON-typed dict a Profile carries."""
    return {
        setting: {
            key: normalise_value(setting, key, value, byteorder)
            for key, value in keys.items()
            if (setting, key) not in DROPPED_KEYS
        }
        for setting, keys in settings.items()
    }


def normalise_value(
    setting: str, key: str, value: Any, byteorder: ByteOrder = sys.byteorder
) -> Any:
    where = (setting, key)
    if where in SSID_KEYS and isinstance(value, _BYTES):
        return ssid_text(value)
    if where in MAC_KEYS and isinstance(value, _BYTES):
        return format_mac(value)
    if where == ("ipv4", "dns") and isinstance(value, list):
        return [ip4_from_u32(int(v), byteorder) for v in value]
    if where == ("ipv6", "dns") and isinstance(value, list):
        return [ip6_text(v) for v in value]
    return jsonable(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def merge_secrets(
    settings: Mapping[str, Mapping[str, Any]], secrets: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """GetSettings output with GetSecrets output laid over it (both unwrapped)."""
    merged = {name: dict(keys) for name, keys in settings.items()}
    for name, keys in secrets.items():
        merged.setdefault(name, {}).update(keys)
    return merged
