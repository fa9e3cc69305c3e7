"""The D-Bus wire format in pure Python: its types, and any message unmarshalled
(method calls are marshalled in marshal.py).

For the blocking client (lean.py), which must not import asyncio or dbus-fast. Stdlib only
and no dataclasses, so the import stays cheap on a small box; readers are closures compiled
once per signature, and byte or number arrays are sliced or unpacked in one go, so a
GetManagedObjects reply parses quickly. Variants come out unwrapped, as plain values.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4

MAX_ARRAY = 1 << 26  # 64 MiB, the spec's limits
MAX_MESSAGE = 1 << 27

FIXED = {"y": "B", "n": "h", "q": "H", "i": "i", "u": "I", "x": "q", "t": "Q", "d": "d", "h": "I"}
ALIGN = {"y": 1, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4, "b": 4,
          "s": 4, "o": 4, "g": 1, "v": 1, "a": 4, "(": 8, "{": 8}  # fmt: skip
_BASIC = "ybnqiuxtdhsog"
_ENDIAN = {ord("l"): "<", ord("B"): ">"}
# Header field code -> (attribute, the type the spec gives it); UNIX_FDS is checked and
# dropped since this client never negotiates fd passing.
_FIELDS = {1: ("path", "o"), 2: ("interface", "s"), 3: ("member", "s"), 4: ("error_name", "s"),
           5: ("reply_serial", "u"), 6: ("destination", "s"), 7: ("sender", "s"),
           8: ("signature", "g"), 9: ("", "u")}  # fmt: skip
_REQUIRED = {METHOD_CALL: ("path", "member"), METHOD_RETURN: ("reply_serial",),
             ERROR: ("error_name", "reply_serial"),
             SIGNAL: ("path", "interface", "member")}  # fmt: skip

_Read = Callable[[bytes, int], tuple[Any, int]]


class WireError(ValueError):
    """Malformed or unsupported D-Bus data."""


class Variant:
    """A value to send with its own D-Bus type (what `v` marshals). Values read come out
    unwrapped instead: nothing received is ever a Variant."""

    __slots__ = ("signature", "value")

    def __init__(self, signature: str, value: Any) -> None:
        self.signature = signature
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variant) and (self.signature, self.value) == (
            other.signature, other.value)  # fmt: skip

    __hash__ = None  # type: ignore[assignment]  # mutable values inside, as a list's

    def __repr__(self) -> str:
        return f"Variant({self.signature!r}, {self.value!r})"


class Message:
    __slots__ = ("body", "destination", "error_name", "flags", "interface", "member", "path",
                 "reply_serial", "sender", "serial", "signature", "type")  # fmt: skip

    def __init__(self, type: int, flags: int = 0, serial: int = 0) -> None:
        self.type = type
        self.flags = flags
        self.serial = serial
        self.reply_serial: int | None = None
        self.path: str | None = None
        self.interface: str | None = None
        self.member: str | None = None
        self.error_name: str | None = None
        self.destination: str | None = None
        self.sender: str | None = None
        self.signature = ""
        self.body: list[Any] = []

    def __repr__(self) -> str:
        shown = (f"{k}={getattr(self, k)!r}" for k in self.__slots__ if k != "body")
        return f"Message({', '.join(shown)}, body=<{len(self.body)} values>)"


# Signatures


def _skip(sig: str, i: int, arrays: int, structs: int) -> int:
    """The index just past the one complete type starting at sig[i]."""
    c = sig[i] if i < len(sig) else ""
    if c and (c in _BASIC or c == "v"):
        return i + 1
    if c == "a" and arrays < 32:
        if not sig.startswith("{", i + 1):
            return _skip(sig, i + 1, arrays + 1, structs)
        key = sig[i + 2 : i + 3]
        if not key or key not in _BASIC:
            raise WireError(f"bad signature {sig!r}: a dict key must be a basic type")
        j = _skip(sig, i + 3, arrays + 1, structs + 1)
        if sig.startswith("}", j):
            return j + 1
    elif c == "(" and structs < 32 and not sig.startswith(")", i + 1):
        j = i + 1
        while not sig.startswith(")", j):
            j = _skip(sig, j, arrays, structs + 1)
        return j + 1
    raise WireError(f"bad signature {sig!r}")


def split_signature(sig: str) -> list[str]:
    """The complete types of a signature, which is checked on the way (WireError)."""
    if len(sig) > 255:
        raise WireError("signature longer than 255")
    types, i = [], 0
    while i < len(sig):
        j = _skip(sig, i, 0, 0)
        types.append(sig[i:j])
        i = j
    return types


# Unmarshalling: one closure per complete type and byte order, cached.

_CACHE: dict[str, dict[str, _Read]] = {"<": {}, ">": {}}


def _reader(t: str, e: str) -> _Read:
    cache = _CACHE[e]
    read = cache.get(t)
    if read is None:
        if len(split_signature(t)) != 1:
            raise WireError(f"bad signature {t!r}: not one complete type")
        if len(cache) > 1000:  # variants name their own types: keep hostile input bounded
            cache.clear()
        read = cache[t] = _compile(t, e)
    return read


def _sig_at(b: bytes, p: int) -> tuple[str, int]:
    end = p + 1 + b[p]
    if b[end]:
        raise WireError("signature without its NUL")
    return b[p + 1 : end].decode("ascii"), end + 1


def _compile(t: str, e: str) -> _Read:
    c = t[0]
    u32 = struct.Struct(e + "I").unpack_from
    if c == "y":
        return lambda b, p: (b[p], p + 1)
    if c in FIXED:
        unpack, size = struct.Struct(e + FIXED[c]).unpack_from, ALIGN[c]
        mask = size - 1

        def fixed(b: bytes, p: int) -> tuple[Any, int]:
            p += -p & mask
            return unpack(b, p)[0], p + size

        return fixed
    if c == "b":

        def boolean(b: bytes, p: int) -> tuple[Any, int]:
            p += -p & 3
            v = u32(b, p)[0]
            if v > 1:
                raise WireError(f"bad boolean {v}")
            return v == 1, p + 4

        return boolean
    if c in "so":

        def string(b: bytes, p: int) -> tuple[Any, int]:
            p += -p & 3
            end = p + 4 + u32(b, p)[0]
            if b[end]:
                raise WireError("string without its NUL")
            return b[p + 4 : end].decode(), end + 1

        return string
    if c == "g":
        return _sig_at
    if c == "v":
        cache = _CACHE[e]

        def variant(b: bytes, p: int) -> tuple[Any, int]:
            end = p + 1 + b[p]  # _sig_at inlined: variants are most of NetworkManager's data
            if b[end]:
                raise WireError("signature without its NUL")
            vt = b[p + 1 : end].decode("ascii")
            return (cache.get(vt) or _reader(vt, e))(b, end + 1)

        return variant
    if c == "(":
        fields = [_reader(x, e) for x in split_signature(t[1:-1])]

        def struct_(b: bytes, p: int) -> tuple[Any, int]:
            p += -p & 7
            out = []
            for read in fields:
                v, p = read(b, p)
                out.append(v)
            return out, p

        return struct_
    return _array(t[1:], e, u32)


def _array(elem: str, e: str, u32: Callable[[bytes, int], tuple[int]]) -> _Read:
    pad = ALIGN[elem[0]] - 1

    def bounds(b: bytes, p: int) -> tuple[int, int]:
        p += -p & 3
        n = u32(b, p)[0]
        if n > MAX_ARRAY:
            raise WireError(f"array of {n} bytes, more than 64 MiB")
        p += 4
        p += -p & pad  # even when empty
        if p + n > len(b):
            raise WireError("array runs past the message")
        return p, p + n

    if elem == "y":

        def raw(b: bytes, p: int) -> tuple[Any, int]:
            p, end = bounds(b, p)
            return b[p:end], end

        return raw
    if elem in FIXED or elem == "b":
        code, size = FIXED.get(elem, "I"), pad + 1

        def numbers(b: bytes, p: int) -> tuple[Any, int]:
            p, end = bounds(b, p)
            if (end - p) % size:
                raise WireError(f"array of {elem!r} with {end - p} bytes")
            values = list(struct.unpack_from(f"{e}{(end - p) // size}{code}", b, p))
            if elem == "b":
                if values and max(values) > 1:
                    raise WireError("bad boolean in array")
                values = [v == 1 for v in values]
            return values, end

        return numbers
    if elem[0] == "{":
        key, value = (_reader(x, e) for x in split_signature(elem[1:-1]))
        by_name = elem[1] in "so"  # a{sv}, a{oa{sa{sv}}}: their keys' reader is inlined

        def mapping(b: bytes, p: int) -> tuple[Any, int]:
            p, end = bounds(b, p)
            out = {}
            while p < end:
                p += -p & 7
                if by_name:
                    start = p + 4
                    p = start + u32(b, p)[0]
                    if b[p]:
                        raise WireError("string without its NUL")
                    k, p = b[start:p].decode(), p + 1
                else:
                    k, p = key(b, p)
                out[k], p = value(b, p)
            if p != end:
                raise WireError("dict runs past its length")
            return out, p

        return mapping
    item = _reader(elem, e)

    def array(b: bytes, p: int) -> tuple[Any, int]:
        p, end = bounds(b, p)
        out = []
        while p < end:
            v, p = item(b, p)
            out.append(v)
        if p != end:
            raise WireError("array runs past its length")
        return out, p

    return array


def parse(buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Message | None, int]:
    """The message starting at buf[offset:], and the offset just past it; (None, offset) while
    buf does not yet hold the whole message (so a socket reader can append and retry)."""
    if len(buf) - offset < 16:
        return None, offset
    e = _ENDIAN.get(buf[offset])
    if e is None:
        raise WireError(f"bad byte order mark {buf[offset]!r}")
    if buf[offset + 3] != 1:
        raise WireError(f"unsupported protocol version {buf[offset + 3]}")
    body_len, serial, fields_len = struct.unpack_from(e + "III", buf, offset + 4)
    fields_end = 16 + fields_len
    total = fields_end + (-fields_end & 7) + body_len
    if total > MAX_MESSAGE:
        raise WireError(f"message of {total} bytes, more than 128 MiB")
    if len(buf) - offset < total:
        return None, offset
    # A copy: its slices are the byte arrays handed out, and the caller's bytearray stays
    # free to shrink (no memoryview left exported on it).
    b = buf[offset : offset + total]
    b = b if isinstance(b, bytes) else bytes(b)
    try:
        return _message(b, e, serial, fields_end), offset + total
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise WireError(f"truncated or undecodable data: {exc}") from None
    except RecursionError:
        raise WireError("values nested too deep") from None


def _message(b: bytes, e: str, serial: int, fields_end: int) -> Message:
    if not b[1]:
        raise WireError("message type 0")
    msg = Message(b[1], b[2], serial)
    p = 16
    while p < fields_end:
        p += -p & 7
        code = b[p]
        vt, p = _sig_at(b, p + 1)
        value, p = _reader(vt, e)(b, p)
        name, want = _FIELDS.get(code, (None, vt))
        if not code or vt != want:
            raise WireError(f"header field {code} of type {vt!r}")
        if name:
            setattr(msg, name, value)
    if p != fields_end:
        raise WireError("header fields run past their length")
    if any(getattr(msg, name) is None for name in _REQUIRED.get(msg.type, ())):
        raise WireError(f"message of type {msg.type} lacks a required header field")
    p = start = fields_end + (-fields_end & 7)
    if p < len(b) and not msg.signature:
        raise WireError("a body without a signature")
    for t in split_signature(msg.signature):
        v, p = _reader(t, e)(b, p)
        msg.body.append(v)
    if p != len(b):
        raise WireError(f"body of {len(b) - start} bytes, its values take {p - start}")
    return msg
