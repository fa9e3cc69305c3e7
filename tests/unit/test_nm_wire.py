"""The pure D-Bus wire format (nm/wire.py) against dbus-fast as the reference: what dbus-fast
writes parses to the same values, and method calls come out byte for byte as dbus-fast
writes them (and read back by its unmarshaller). Big-endian messages, header fields
dbus-fast never writes, and malformed data are laid out by hand."""

from __future__ import annotations

import ast
import io
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message as DMessage
from dbus_fast import MessageFlag, MessageType, Variant
from dbus_fast._private.unmarshaller import Unmarshaller

from tightrope.nm import marshal, wire
from tightrope.nm.marshal import method_call
from tightrope.nm.wire import WireError, parse

V = Variant
NM = "org.freedesktop.NetworkManager"
DEVICE = "/org/freedesktop/NetworkManager/Devices/2"

SETTINGS = {
    "connection": {
        "id": V("s", "eth0 ✓"),
        "autoconnect": V("b", False),
        "timestamp": V("t", 1 << 40),
    },
    "ipv4": {
        "method": V("s", "auto"),
        "dns": V("au", [0x0100_12C6]),
        "address-data": V("aa{sv}", [{"address": V("s", "10.0.0.2"), "prefix": V("u", 24)}]),
    },
    "ipv6": {"dns": V("aay", [bytes(15) + b"\x01"]), "addresses": V("a(ayuay)", [])},
    "802-11-wireless": {"ssid": V("ay", b"caf\xc3\xa9\xff")},
}
MANAGED = {
    DEVICE: {
        f"{NM}.Device": {"Interface": V("s", "eth0"), "Mtu": V("u", 1500)},
        f"{NM}.Device.Wired": {},
    },
    "/org/freedesktop/NetworkManager/Settings/7": {
        f"{NM}.Settings.Connection": {"Unsaved": V("b", True)}
    },
}
EVERY_BASIC_VARIANT = [
    V("y", 255), V("b", True), V("n", -32768), V("q", 65535), V("i", -(1 << 31)),
    V("u", (1 << 32) - 1), V("x", -(1 << 63)), V("t", (1 << 64) - 1), V("d", -0.5),
    V("s", "héllo"), V("o", "/org/x"), V("g", "a{sv}"), V("v", V("s", "inner")),
    V("a{sv}", {"k": V("as", ["a", "b"])}), V("(si)", ["x", 1]),
]  # fmt: skip
EVERY_BASIC_TYPE = [int, bool, int, int, int, int, int, int, float, str, str, str, str, dict, list]

# (signature, body as dbus-fast takes it)
CASES: dict[str, tuple[str, list[Any]]] = {
    "settings": ("a{sa{sv}}", [SETTINGS]),
    "managed objects": ("a{oa{sa{sv}}}", [MANAGED]),
    "byte arrays": (
        "ayaaya(ayuay)",
        [b"\x00\x01\xff", [b"", b"ab", bytes(16)], [(b"\x20\x01", 64, b"")]],
    ),
    "empty arrays padded": ("a(tt)ua{sv}ya(y)xa{ss}", [[], 7, {}, 1, [], -1, {}]),
    "arrays of empty dicts": ("aa{sv}", [[{}, {}]]),
    "variants": ("v" * len(EVERY_BASIC_VARIANT), EVERY_BASIC_VARIANT),
    "number arrays": ("abanaqaiau", [[True, False], [-1, 2], [1, 65535], [-5], [0, (1 << 32) - 1]]),
    "wide number arrays": ("axatadayay", [[-(1 << 63)], [(1 << 64) - 1], [1.5, -2.25], b"", b"x"]),
    "nested structs": ("(s(ib)v)y(t)", [("a", (1, True), V("ay", b"z")), 3, (9,)]),
    "strings": ("sogs", ["ünïcødé ✓", "/a/b_1", "a{oa{sa{sv}}}", ""]),
    "nothing": ("", []),
}


def dbus_bytes(**fields: Any) -> bytes:
    return bytes(DMessage(**fields)._marshall(False))


def dbus_read(data: bytes) -> DMessage:
    stream: Any = io.BytesIO(data)  # typed as a socket pair; it only calls read()
    message = Unmarshaller(stream=stream).unmarshall()
    assert message is not None
    return message


def plain(value: Any) -> Any:
    """dbus-fast's values as wire.parse gives them: variants unwrapped, structs as lists."""
    if isinstance(value, Variant):
        return plain(value.value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def ours(value: Any) -> Any:
    """dbus-fast's values as wire.method_call takes them: variants as (signature, value)."""
    if isinstance(value, Variant):
        return (value.signature, ours(value.value))
    if isinstance(value, (list, tuple)):
        return type(value)(ours(v) for v in value)
    if isinstance(value, dict):
        return {k: ours(v) for k, v in value.items()}
    return value


# Hand-laid messages, for what dbus-fast cannot write (big-endian, other header fields, junk).


def u32(n: int, e: str = "<") -> bytes:
    return struct.pack(e + "I", n)


def string(s: str, e: str = "<") -> bytes:
    raw = s.encode()
    return u32(len(raw), e) + raw + b"\0"


def field(code: int, sig: str, value: bytes, align: int = 4) -> bytes:
    head = bytes([code, len(sig)]) + sig.encode() + b"\0"
    return head + bytes(-len(head) % align) + value


def raw(signature: str, body: bytes, *, kind: int = wire.METHOD_RETURN, version: int = 1,
        fields: list[bytes] | None = None, order: bytes = b"l") -> bytes:  # fmt: skip
    e = "<" if order == b"l" else ">"
    fields = [field(5, "u", u32(1, e))] if fields is None else fields
    if signature:
        fields.append(field(8, "g", bytes([len(signature)]) + signature.encode() + b"\0", 1))
    joined = b""
    for f in fields:
        joined += bytes(-len(joined) % 8) + f
    head = order + bytes([kind, 0, version]) + struct.pack(e + "III", len(body), 9, len(joined))
    head += joined
    return head + bytes(-len(head) % 8) + body


# Reading


@pytest.mark.parametrize("signature, body", CASES.values(), ids=CASES.keys())
def test_parse_reads_what_dbus_fast_writes(signature: str, body: list[Any]) -> None:
    data = dbus_bytes(message_type=MessageType.METHOD_RETURN, serial=9, reply_serial=3,
                      destination=":1.4", signature=signature, body=body)  # fmt: skip
    message, end = parse(data)
    assert message is not None and end == len(data)
    assert (message.type, message.serial, message.reply_serial) == (wire.METHOD_RETURN, 9, 3)
    assert (message.destination, message.path, message.sender) == (":1.4", None, None)
    assert message.signature == signature
    assert message.body == plain(body)


def test_values_come_out_as_plain_python_types() -> None:
    message, _ = parse(dbus_bytes(message_type=MessageType.SIGNAL, path="/p", interface="a.b",
                                  member="M", signature="v" * len(EVERY_BASIC_VARIANT),
                                  body=EVERY_BASIC_VARIANT))  # fmt: skip
    assert message is not None
    assert [type(v) for v in message.body] == EVERY_BASIC_TYPE
    assert message.body[12] == "inner"  # a variant in a variant: unwrapped all the way
    assert (message.type, message.path, message.interface, message.member) == (4, "/p", "a.b", "M")
    settings, _ = parse(dbus_bytes(message_type=MessageType.METHOD_RETURN, reply_serial=1,
                                   signature="a{sa{sv}}", body=[SETTINGS]))  # fmt: skip
    assert settings is not None
    assert settings.body[0]["802-11-wireless"]["ssid"] == b"caf\xc3\xa9\xff"
    assert settings.body[0]["connection"]["autoconnect"] is False


def test_error_reply() -> None:
    denied = "org.freedesktop.NetworkManager.PermissionDenied"
    data = dbus_bytes(message_type=MessageType.ERROR, serial=4, reply_serial=2, signature="s",
                      error_name=denied, body=["no"])  # fmt: skip
    message, _ = parse(data)
    assert message is not None
    assert (message.type, message.reply_serial, message.body) == (wire.ERROR, 2, ["no"])
    assert message.error_name == denied


def test_big_endian() -> None:
    body = (
        struct.pack(">hHiI", -2, 65535, -3, 4) + bytes(4)  # n q i u, then padding to 8
        + struct.pack(">qQd", -5, (1 << 64) - 1, 0.25)
        + u32(1, ">") + string("hé", ">")  # (bs) at 40
        + u32(16, ">") + string("k", ">") + b"\x01u\x00" + bytes(3) + u32(7, ">")  # a{sv} at 52
        + u32(2, ">") + b"\x01\x02"  # ay at 72
    )  # fmt: skip
    fields = [field(1, "o", string("/p", ">")), field(2, "s", string("i.f", ">")),
              field(3, "s", string("M", ">"))]  # fmt: skip
    data = raw("nqiuxtd(bs)a{sv}ay", body, kind=wire.SIGNAL, fields=fields, order=b"B")
    message, end = parse(data)
    assert message is not None and end == len(data)
    assert (message.path, message.interface, message.member) == ("/p", "i.f", "M")
    assert message.body == [-2, 65535, -3, 4, -5, (1 << 64) - 1, 0.25, [True, "hé"], {"k": 7},
                            b"\x01\x02"]  # fmt: skip


def test_header_fields_dbus_fast_never_writes() -> None:
    fields = [field(5, "u", u32(8)), field(7, "s", string(":1.9")), field(9, "u", u32(0)),
              field(200, "as", u32(6) + string("x"))]  # fmt: skip
    message, _ = parse(raw("y", b"\x05", fields=fields))
    assert message is not None
    assert (message.sender, message.reply_serial, message.body) == (":1.9", 8, [5])


def test_every_prefix_is_incomplete() -> None:
    data = dbus_bytes(message_type=MessageType.METHOD_RETURN, reply_serial=1,
                      signature="a{oa{sa{sv}}}", body=[MANAGED])  # fmt: skip
    view = memoryview(b"junk" + data)
    for n in range(4, len(view)):
        assert parse(view[:n], 4) == (None, 4)
        assert parse(bytes(view[4:n])) == (None, 0)
    assert parse(view, 4)[1] == len(view)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_messages_back_to_back(kind: type) -> None:
    first = dbus_bytes(message_type=MessageType.METHOD_RETURN, reply_serial=1, signature="s",
                       body=["one"])  # fmt: skip
    second = dbus_bytes(message_type=MessageType.METHOD_RETURN, reply_serial=2, signature="ay",
                        body=[b"two"])  # fmt: skip
    buf = kind(first + second)
    one, at = parse(buf)
    two, end = parse(buf, at)
    assert one is not None and two is not None
    assert (one.body, at, two.body, end) == (["one"], len(first), [b"two"], len(buf))
    assert parse(buf, end) == (None, end)


def test_a_parsed_bytearray_can_shrink() -> None:
    # The blocking client deletes what it parsed: no buffer export may outlive parse().
    buf = bytearray(dbus_bytes(message_type=MessageType.METHOD_RETURN, reply_serial=1) * 2)
    _, used = parse(buf)
    del buf[:used]
    assert parse(buf)[1] == len(buf)


MALFORMED = {
    "byte order": (raw("", b"", order=b"X"), "byte order"),
    "version": (raw("", b"", version=2), "version"),
    "type 0": (raw("", b"", kind=0), "type 0"),
    "lone array": (raw("a", b""), "bad signature"),
    "variant key": (raw("a{vs}", u32(0)), "basic type"),
    "three in a dict entry": (raw("a{sss}", u32(0)), "bad signature"),
    "empty struct": (raw("()", b""), "bad signature"),
    "unclosed struct": (raw("(i", u32(0)), "bad signature"),
    "boolean 2": (raw("b", u32(2)), "bad boolean"),
    "boolean 3 in array": (raw("ab", u32(4) + u32(3)), "bad boolean"),
    "string without NUL": (raw("s", u32(3) + b"abcX"), "NUL"),
    "string not UTF-8": (raw("s", u32(2) + b"\xff\xfe\0"), "undecodable"),
    "string past the end": (raw("s", u32(10) + b"ab\0"), "truncated"),
    "short uint64": (raw("t", u32(1)), "truncated"),
    "array over 64 MiB": (raw("au", u32((1 << 26) + 4)), "64 MiB"),
    "array past the end": (raw("au", u32(8) + u32(1)), "past the message"),
    "array of a part of uint32": (raw("au", u32(3) + b"abc"), "array of 'u'"),
    "dict entry past its array": (raw("a{yy}", u32(1) + bytes(4) + b"\1\2"), "past its length"),
    "variant of a bad type": (raw("v", b"\x01a\x00"), "bad signature"),
    "variant of two types": (raw("v", b"\x02yy\x00\x01\x01"), "one complete type"),
    "variants nested forever": (raw("v", b"\x01v\x00" * 3000 + b"\x01y\x00\x07"), "too deep"),
    "body without signature": (raw("", u32(0)), "without a signature"),
    "body longer than its values": (raw("u", u32(1) + u32(2)), "body of 8 bytes"),
    "error without its name": (raw("", b"", kind=wire.ERROR), "lacks"),
    "reply serial as a string": (raw("", b"", fields=[field(5, "s", string("1"))]), "field 5"),
    "header field 0": (raw("", b"", fields=[field(0, "u", u32(1))]), "field 0"),
    "over 128 MiB": (b"l\x02\x00\x01" + struct.pack("<III", 1 << 27, 1, 0), "128 MiB"),
}


@pytest.mark.parametrize("data, match", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_data_is_refused(data: bytes, match: str) -> None:
    with pytest.raises(WireError, match=match):
        parse(data)


# Writing


@pytest.mark.parametrize("signature, body", CASES.values(), ids=CASES.keys())
def test_method_call_is_what_dbus_fast_writes(signature: str, body: list[Any]) -> None:
    fields: dict[str, Any] = {"destination": NM, "path": DEVICE, "interface": f"{NM}.Device",
                              "member": "Do"}  # fmt: skip
    data = method_call(5, **fields, signature=signature, body=ours(body))
    assert data == dbus_bytes(message_type=MessageType.METHOD_CALL, serial=5, **fields,
                              signature=signature, body=body)  # fmt: skip
    theirs = dbus_read(data)
    assert (theirs.message_type, theirs.serial, theirs.flags) == (MessageType.METHOD_CALL, 5, 0)
    names = (theirs.destination, theirs.path, theirs.interface, theirs.member)
    assert names == tuple(fields.values())
    assert (theirs.signature, plain(theirs.body)) == (signature, plain(body))
    message, _ = parse(data)
    assert message is not None and message.body == plain(body)


def test_method_call_without_reply() -> None:
    data = method_call(1, destination=NM, path="/", interface="i.f", member="M", no_reply=True)
    assert dbus_read(data).flags == MessageFlag.NO_REPLY_EXPECTED
    message, _ = parse(data)
    assert message is not None and message.flags == 1 and message.body == []


def test_method_call_takes_any_bytes_like_and_fd_indexes() -> None:
    data = method_call(2, destination=NM, path="/", interface="i.f", member="M",
                       signature="ayayah", body=[bytearray(b"ab"), [1, 2], [3]])  # fmt: skip
    message, _ = parse(data)
    assert message is not None and message.body == [b"ab", b"\x01\x02", [3]]


NOT_FITTING = {
    "negative uint32": ("u", [-1]),
    "byte 256": ("y", [256]),
    "text for int32": ("i", ["1"]),
    "float for int64": ("x", [1.0]),
    "text for double": ("d", ["x"]),
    "int for boolean": ("b", [1]),
    "bytes for string": ("s", [b"x"]),
    "NUL in string": ("s", ["a\0b"]),
    "lone surrogate": ("s", ["\udcff"]),
    "relative object path": ("o", ["relative"]),
    "bad signature value": ("g", ["a{"]),
    "bare variant": ("v", ["x"]),
    "variant of two types": ("v", [("ss", "x")]),
    "variant not fitting": ("v", [("u", "x")]),
    "text for array": ("as", ["abc"]),
    "text for byte array": ("ay", ["abc"]),
    "pairs for dict": ("a{sv}", [[("a", ("s", "b"))]]),
    "short struct": ("(ii)", [(1,)]),
    "too few values": ("su", ["x"]),
    "bad signature": ("a", [[]]),
    "signature over 255": ("y" * 256, [1] * 256),
}


@pytest.mark.parametrize("signature, body", NOT_FITTING.values(), ids=NOT_FITTING.keys())
def test_values_that_do_not_fit_are_refused(signature: str, body: list[Any]) -> None:
    with pytest.raises(WireError):
        method_call(1, destination=NM, path="/", interface="i.f", member="M",
                    signature=signature, body=body)  # fmt: skip


@pytest.mark.parametrize("serial", [0, 1 << 32])
def test_serial_out_of_range(serial: int) -> None:
    with pytest.raises(WireError, match="serial"):
        method_call(serial, destination=NM, path="/", interface="i.f", member="M")


def test_only_the_standard_library() -> None:
    # The point of the module: `tightrope status` must not pay for asyncio or dbus-fast.
    for module in (wire, marshal):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        tops = {name.split(".")[0] for name in imported} - {"tightrope"}
        assert tops <= set(sys.stdlib_module_names) - {"asyncio", "dataclasses"}
