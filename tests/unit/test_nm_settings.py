"""The settings translators on plain data: D-Bus shapes -> JSON types -> D-Bus shapes."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from dbus_fast import Variant
from hypothesis import given, settings
from hypothesis import strategies as st

from tightrope.nm.normalise import merge_secrets, normalise_settings, unwrap
from tightrope.nm.signatures import SIGNATURES, signature_of
from tightrope.nm.to_dbus import ip4_to_u32, settings_to_dbus

GW = ip4_to_u32("198.18.1.1", "little")


def dbus_profile() -> dict[str, dict[str, Variant]]:
    """What GetSettings returns for a netplan-generated Wi-Fi profile, as dbus-fast unpacks it
    (network byte order uint32 DNS as on a little-endian box)."""
    return {
        "connection": {
            "id": Variant("s", "netplan-wlan0-TightropeLab"),
            "uuid": Variant("s", "5b4a9a7e-1111-4c1e-9a57-000000000001"),
            "type": Variant("s", "802-11-wireless"),
            "interface-name": Variant("s", "wlan0"),
            "timestamp": Variant("t", 1764064000),
        },
        "802-11-wireless": {
            "ssid": Variant("ay", b"TightropeLab"),
            "mac-address": Variant("ay", bytes.fromhex("020000000000")),
            "mode": Variant("s", "infrastructure"),
        },
        "802-11-wireless-security": {"key-mgmt": Variant("s", "wpa-psk")},
        "ipv4": {
            "method": Variant("s", "manual"),
            "address-data": Variant(
                "aa{sv}", [{"address": Variant("s", "198.18.1.51"), "prefix": Variant("u", 24)}]
            ),
            "addresses": Variant("aau", [[0x3301_12C6, 24, GW]]),
            "dns": Variant("au", [GW, ip4_to_u32("8.8.8.8", "little")]),
            "gateway": Variant("s", "198.18.1.1"),
            "route-data": Variant("aa{sv}", []),
            "routes": Variant("aau", []),
        },
        "ipv6": {
            "method": Variant("s", "auto"),
            "addresses": Variant("a(ayuay)", []),
            "dns": Variant("aay", [socket.inet_pton(socket.AF_INET6, "2001:db8::1")]),
            "routes": Variant("a(ayuayu)", []),
        },
        "proxy": {},
    }


EXPECTED: dict[str, dict[str, Any]] = {
    "connection": {
        "id": "netplan-wlan0-TightropeLab",
        "uuid": "5b4a9a7e-1111-4c1e-9a57-000000000001",
        "type": "802-11-wireless",
        "interface-name": "wlan0",
        "timestamp": 1764064000,
    },
    "802-11-wireless": {
        "ssid": "TightropeLab",
        "mac-address": "02:00:00:00:00:00",
        "mode": "infrastructure",
    },
    "802-11-wireless-security": {"key-mgmt": "wpa-psk"},
    "ipv4": {
        "method": "manual",
        "address-data": [{"address": "198.18.1.51", "prefix": 24}],
        "dns": ["198.18.1.1", "8.8.8.8"],
        "gateway": "198.18.1.1",
        "route-data": [],
    },
    "ipv6": {"method": "auto", "dns": ["2001:db8::1"]},
    "proxy": {},
}


def test_normalise_a_netplan_wifi_profile() -> None:
    assert normalise_settings(unwrap(dbus_profile()), "little") == EXPECTED


def test_to_dbus_gives_nm_its_types_back() -> None:
    out = settings_to_dbus(EXPECTED, "little")
    original = dbus_profile()
    for setting, keys in out.items():
        for key, variant in keys.items():
            assert variant.signature == original[setting][key].signature, (setting, key)
            assert unwrap(variant) == unwrap(original[setting][key]), (setting, key)


def test_round_trip_of_the_example() -> None:
    assert normalise_settings(unwrap(settings_to_dbus(EXPECTED))) == EXPECTED


def test_ipv4_dns_is_network_byte_order_on_either_host() -> None:
    little = normalise_settings({"ipv4": {"dns": [0x010112C6]}}, "little")
    big = normalise_settings({"ipv4": {"dns": [0xC6120101]}}, "big")
    assert little == big == {"ipv4": {"dns": ["198.18.1.1"]}}


def test_undecodable_ssid_survives_the_round_trip() -> None:
    raw = b"caf\xe9-\xff"
    text = normalise_settings({"802-11-wireless": {"ssid": raw}})["802-11-wireless"]["ssid"]
    back = settings_to_dbus({"802-11-wireless": {"ssid": text}})
    assert back["802-11-wireless"]["ssid"].value == raw


def test_other_byte_arrays_become_lists_of_ints() -> None:
    raw = {"802-1x": {"ca-cert": b"file:///etc/ca.pem\x00"}}
    normal = normalise_settings(raw)
    assert normal["802-1x"]["ca-cert"] == list(b"file:///etc/ca.pem\x00")
    assert settings_to_dbus(normal)["802-1x"]["ca-cert"].value == raw["802-1x"]["ca-cert"]


def test_secrets_merge_over_settings() -> None:
    merged = merge_secrets(
        {"802-11-wireless-security": {"key-mgmt": "wpa-psk"}},
        {"802-11-wireless-security": {"psk": "correct horse"}},
    )
    assert merged == {"802-11-wireless-security": {"key-mgmt": "wpa-psk", "psk": "correct horse"}}


def test_bond_options_and_port_settings() -> None:
    bond: dict[str, dict[str, Any]] = {
        "connection": {"type": "bond", "autoconnect-slaves": 1},
        "bond": {"options": {"mode": "active-backup", "miimon": "100", "primary": "eth0"}},
    }
    out = settings_to_dbus(bond)
    assert out["bond"]["options"].signature == "a{ss}"
    assert out["connection"]["autoconnect-slaves"].signature == "i"
    port = settings_to_dbus({"connection": {"master": "bond0", "slave-type": "bond"}})
    assert port["connection"]["master"].signature == "s"


def test_unknown_keys_are_inferred_unless_ambiguous() -> None:
    out = settings_to_dbus({"ovs-bridge": {"stp-enable": True, "fail-mode": "secure"}})
    assert out["ovs-bridge"]["stp-enable"].signature == "b"
    with pytest.raises(ValueError, match=r"vlan\.id"):
        settings_to_dbus({"vlan": {"id": 10}})


def test_a_wrongly_typed_value_names_its_key() -> None:
    with pytest.raises(ValueError, match=r"802-3-ethernet\.mtu"):
        settings_to_dbus({"802-3-ethernet": {"mtu": "1500"}})
    with pytest.raises(ValueError, match=r"connection\.autoconnect"):
        settings_to_dbus({"connection": {"autoconnect": "yes"}})


def test_route_data_with_attributes() -> None:
    route = {"dest": "198.19.0.0", "prefix": 16, "next-hop": "198.18.1.1", "metric": 50,
             "onlink": True, "mtu": 1400}  # fmt: skip
    routes: list[dict[str, Any]] = [route]
    out = settings_to_dbus({"ipv4": {"route-data": routes}})
    entry = out["ipv4"]["route-data"].value[0]
    assert {k: v.signature for k, v in entry.items()} == {
        "dest": "s", "prefix": "u", "next-hop": "s", "metric": "u", "onlink": "b", "mtu": "u",
    }  # fmt: skip
    assert normalise_settings(unwrap(out)) == {"ipv4": {"route-data": routes}}


# -- property: whatever normalise can produce, to_dbus sends back unchanged -----------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
_U32 = st.integers(0, 2**32 - 1)
_BY_SIGNATURE: dict[str, st.SearchStrategy[Any]] = {
    "s": _TEXT,
    "b": st.booleans(),
    "i": st.integers(-(2**31), 2**31 - 1),
    "u": _U32,
    "t": st.integers(0, 2**64 - 1),
    "x": st.integers(-(2**63), 2**63 - 1),
    "as": st.lists(_TEXT, max_size=3),
    "au": st.lists(_U32, max_size=3),
    "a{ss}": st.dictionaries(_TEXT, _TEXT, max_size=3),
    "ay": st.lists(st.integers(0, 255), max_size=8),
    "aay": st.lists(st.lists(st.integers(0, 255), max_size=4), max_size=2),
}
_MAC = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02X}" for x in b))
_SPECIAL: dict[tuple[str, str], st.SearchStrategy[Any]] = {
    ("802-11-wireless", "ssid"): st.binary(min_size=1, max_size=32).map(
        lambda b: b.decode("utf-8", errors="surrogateescape")
    ),
    ("ipv4", "dns"): st.lists(st.binary(min_size=4, max_size=4).map(socket.inet_ntoa)),
    ("ipv6", "dns"): st.lists(
        st.binary(min_size=16, max_size=16).map(lambda b: socket.inet_ntop(socket.AF_INET6, b))
    ),
    ("ipv4", "address-data"): st.lists(
        st.fixed_dictionaries(
            {
                "address": st.binary(min_size=4, max_size=4).map(socket.inet_ntoa),
                "prefix": st.integers(0, 32),
            }
        )
    ),
}
_LEGACY = {"aau", "a(ayuay)", "a(ayuayu)", "aa{sv}"}


def _value_for(setting: str, key: str) -> st.SearchStrategy[Any]:
    if (setting, key) in _SPECIAL:
        return _SPECIAL[(setting, key)]
    sig = signature_of(setting, key)
    assert sig is not None
    if sig == "ay" and ("mac" in key or key in ("bssid", "bdaddr")):
        return _MAC
    return _BY_SIGNATURE[sig]


_KEYS = sorted(
    (setting, key)
    for setting, keys in SIGNATURES.items()
    for key, sig in keys.items()
    if sig not in _LEGACY or (setting, key) in _SPECIAL
)


@st.composite
def json_settings(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    chosen = draw(st.lists(st.sampled_from(_KEYS), min_size=1, max_size=12, unique=True))
    out: dict[str, dict[str, Any]] = {}
    for setting, key in chosen:
        out.setdefault(setting, {})[key] = draw(_value_for(setting, key))
    return out


@settings(max_examples=300)
@given(json_settings())
def test_round_trip_for_every_table_key(data: dict[str, dict[str, Any]]) -> None:
    assert normalise_settings(unwrap(settings_to_dbus(data))) == data


def test_pure_python_dbus_fast_hands_over_bytearrays() -> None:
    # Seen on the lab box: from the zipapp, 'ay' arrives as bytearray, not bytes.
    raw = {"802-11-wireless": {"ssid": Variant("ay", bytearray(b"TightropeLab"),
                                               verify=False)}}  # fmt: skip
    assert unwrap(raw) == {"802-11-wireless": {"ssid": b"TightropeLab"}}
    assert normalise_settings({"802-11-wireless": {"ssid": bytearray(b"x")}}) == {
        "802-11-wireless": {"ssid": "x"}
    }
