"""JSON-typed settings (as a snapshot holds them) -> the a{sa{sv}} NetworkManager accepts.

The inverse of normalise.py: normalise_settings(unwrap(settings_to_dbus(x))) == x for every
x that normalise_settings can produce. Pure; it builds wire.Variants (each value checked
against its type as it is made) and sends nothing.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping
from typing import Any

from tightrope.core.redact import REDACTED, is_secret_key
from tightrope.nm.marshal import check_value
from tightrope.nm.normalise import MAC_KEYS, SSID_KEYS, ByteOrder
from tightrope.nm.signatures import ENTRY_FIELDS, signature_of
from tightrope.nm.wire import Variant, split_signature

DbusSettings = dict[str, dict[str, Variant]]


def settings_to_dbus(
    settings: Mapping[str, Mapping[str, Any]], byteorder: ByteOrder = sys.byteorder
) -> DbusSettings:
    """Raises ValueError naming the setting.key whose value does not fit its type."""
    out: DbusSettings = {}
    for setting, keys in settings.items():
        out[setting] = {}
        for key, value in keys.items():
            try:
                out[setting][key] = value_to_variant(setting, key, value, byteorder)
            except (ValueError, TypeError, OverflowError, OSError) as exc:
                if is_secret_key(key):  # the value (and any message quoting it) stays out
                    raise ValueError(f"{setting}.{key}: cannot send {REDACTED}") from None
                raise ValueError(f"{setting}.{key}: cannot send {value!r}: {exc}") from exc
    return out


def value_to_variant(
    setting: str, key: str, value: Any, byteorder: ByteOrder = sys.byteorder
) -> Variant:
    where = (setting, key)
    if where in SSID_KEYS and isinstance(value, str):
        return Variant("ay", value.encode("utf-8", errors="surrogateescape"))
    if where in MAC_KEYS and isinstance(value, str):
        return Variant("ay", parse_mac(value))
    if where == ("ipv4", "dns"):
        return Variant("au", [ip4_to_u32(str(v), byteorder) for v in value])
    if where == ("ipv6", "dns"):
        return Variant("aay", [socket.inet_pton(socket.AF_INET6, str(v)) for v in value])
    signature = signature_of(setting, key) or infer_signature(value)
    if signature is None:
        raise ValueError("no D-Bus type known for this key; add it to nm/signatures.py")
    if signature == "aa{sv}":
        return Variant("aa{sv}", [_entry(e) for e in value])
    return _checked(signature, coerce(signature, value))


def _checked(signature: str, value: Any) -> Variant:
    check_value(signature, value)  # a WireError (ValueError) names what does not fit
    return Variant(signature, value)


def parse_mac(text: str) -> bytes:
    raw = bytes.fromhex(text.replace(":", "").replace("-", ""))
    if not raw:
        raise ValueError(f"not a MAC address: {text!r}")
    return raw


def ip4_to_u32(text: str, byteorder: ByteOrder = sys.byteorder) -> int:
    return int.from_bytes(socket.inet_aton(text), byteorder)


def infer_signature(value: Any) -> str | None:
    """For keys the table lacks. Integers are ambiguous (i/u/t/x), so they are refused."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, str):
        return "s"
    if isinstance(value, float):
        return "d"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "as"
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return "aa{sv}"
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return "a{ss}"
    return None


def _entry(entry: Mapping[str, Any]) -> dict[str, Variant]:
    """One address-data / route-data / routing-rules dict."""
    out: dict[str, Variant] = {}
    for field, value in entry.items():
        signature = ENTRY_FIELDS.get(field)
        if signature is None:
            signature = "u" if isinstance(value, int) and not isinstance(value, bool) else None
            signature = signature or infer_signature(value)
        if signature is None:
            raise ValueError(f"no D-Bus type known for field {field!r}")
        out[field] = _checked(signature, coerce(signature, value))
    return out


def coerce(signature: str, value: Any) -> Any:
    """Turn JSON shapes back into what the wire marshals for the signature (one complete
    type): lists of ints into bytes for `ay`, nested containers element by element."""
    token = signature[0]
    if token == "a":
        child = signature[1:]
        if child == "y":
            return bytes(value)
        if child[0] == "{":
            key_t, value_t = split_signature(child[1:-1])
            return {coerce(key_t, k): coerce(value_t, v) for k, v in value.items()}
        return [coerce(child, v) for v in value]
    if token == "(":
        fields = split_signature(signature[1:-1])
        return [coerce(child, v) for child, v in zip(fields, value, strict=True)]
    if token == "v":
        if isinstance(value, Variant):
            return value
        inferred = infer_signature(value)
        if inferred is None:
            raise ValueError(f"cannot guess a D-Bus type for {value!r}")
        return _checked(inferred, value)
    if token in "ynqiuxt":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {value!r}")
        return value
    return value
