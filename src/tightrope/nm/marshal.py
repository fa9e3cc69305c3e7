"""D-Bus method calls marshalled (little-endian, as the spec's own examples and every bus
daemon in practice), and values checked against their type before they are sent."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from tightrope.nm.wire import (
    ALIGN,
    FIXED,
    MAX_ARRAY,
    MAX_MESSAGE,
    METHOD_CALL,
    Variant,
    WireError,
    split_signature,
)


def _pad(out: bytearray, n: int) -> None:
    out += bytes(-len(out) % n)


def _put(out: bytearray, t: str, v: Any) -> None:
    c = t[0]
    if c in FIXED:
        try:
            packed = struct.pack("<" + FIXED[c], v)
        except struct.error:
            raise WireError(f"{v!r:.60} does not fit {c!r}") from None
        _pad(out, ALIGN[c])
        out += packed
    elif c == "b":
        if not isinstance(v, bool):
            raise WireError(f"{v!r:.60} is not a boolean")
        _pad(out, 4)
        out += struct.pack("<I", v)
    elif c in "sog":
        if not isinstance(v, str) or "\0" in v or (c == "o" and not v.startswith("/")):
            raise WireError(f"{v!r:.60} does not fit {c!r}")
        try:
            raw = v.encode("ascii" if c == "g" else "utf-8")
        except UnicodeEncodeError:
            raise WireError(f"{v!r:.60} cannot be encoded") from None
        if c == "g":
            split_signature(v)
            out.append(len(raw))
        else:
            _pad(out, 4)
            out += struct.pack("<I", len(raw))
        out += raw + b"\0"
    elif c == "v":
        if isinstance(v, Variant):
            v = (v.signature, v.value)
        if not (isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)):
            raise WireError(f"a variant is a Variant or (signature, value), not {v!r:.60}")
        if len(split_signature(v[0])) != 1:
            raise WireError(f"bad variant signature {v[0]!r}")
        _put(out, "g", v[0])
        _put(out, v[0], v[1])
    elif c == "(":
        types = split_signature(t[1:-1])
        if not isinstance(v, (tuple, list)) or len(v) != len(types):
            raise WireError(f"{v!r:.60} does not fit {t!r}")
        _pad(out, 8)
        for ft, fv in zip(types, v, strict=True):
            _put(out, ft, fv)
    else:
        _put_array(out, t[1:], v)


def _put_array(out: bytearray, elem: str, v: Any) -> None:
    _pad(out, 4)
    at = len(out)
    out += bytes(4)
    _pad(out, ALIGN[elem[0]])
    start = len(out)
    if elem[0] == "{":
        if not isinstance(v, Mapping):
            raise WireError(f"{v!r:.60} is not a mapping for 'a{elem}'")
        kt, vt = split_signature(elem[1:-1])
        for key, value in v.items():
            _pad(out, 8)
            _put(out, kt, key)
            _put(out, vt, value)
    elif elem == "y" and isinstance(v, (bytes, bytearray, memoryview)):
        out += v
    elif isinstance(v, (list, tuple)):
        for item in v:
            _put(out, elem, item)
    else:
        raise WireError(f"{v!r:.60} is not a list for 'a{elem}'")
    if len(out) - start > MAX_ARRAY:
        raise WireError("array longer than 64 MiB")
    struct.pack_into("<I", out, at, len(out) - start)


def check_value(signature: str, value: Any) -> None:
    """Raise WireError unless `value` can be sent as the one complete type `signature`."""
    if len(split_signature(signature)) != 1:
        raise WireError(f"bad signature {signature!r}: not one complete type")
    _put(bytearray(), signature, value)


def method_call(
    serial: int,
    *,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: Sequence[Any] = (),
    no_reply: bool = False,
) -> bytes:
    """A little-endian METHOD_CALL message."""
    if not 0 < serial <= 0xFFFFFFFF:
        raise WireError(f"serial {serial} out of range")
    types = split_signature(signature)
    if len(types) != len(body):
        raise WireError(f"signature {signature!r} takes {len(types)} values, not {len(body)}")
    payload = bytearray()
    for t, v in zip(types, body, strict=True):
        _put(payload, t, v)
    # The order dbus-fast uses, so its output can serve as a byte-for-byte reference.
    fields = [(1, ("o", path)), (2, ("s", interface)), (3, ("s", member)),
              (6, ("s", destination))] + ([(8, ("g", signature))] if signature else [])  # fmt: skip
    out = bytearray(struct.pack("<4BII", ord("l"), METHOD_CALL, int(no_reply), 1,
                                len(payload), serial))  # fmt: skip
    _put(out, "a(yv)", fields)
    _pad(out, 8)
    if len(out) + len(payload) > MAX_MESSAGE:
        raise WireError("message longer than 128 MiB")
    return bytes(out + payload)
