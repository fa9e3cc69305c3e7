"""Secrets left out of netplan YAML and NetworkManager setting dicts, every other byte kept."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tightrope.core.redact import REDACTED, UNPARSABLE, redact_netplan, redact_settings

SECRET = "hunter2-secret"
R = f'"{REDACTED}"'

# (what the file says, what a snapshot may show)
NETPLAN_CASES = [
    ('          password: "hunter2-secret"\n', f"          password: {R}\n"),
    ("  password: hunter2-secret  # note\n", f"  password: {R}  # note\n"),
    ("      - 'password': hunter2-secret#word, x}y\n", f"      - 'password': {R}\n"),
    ("auth: {key-management: psk, password: 'hunter2-secret''s'}\n",
     f"auth: {{key-management: psk, password: {R}}}\n"),
    ('"ap": {password: hunter2 -secret , hidden: true}\n',
     f'"ap": {{password: {R} , hidden: true}}\n'),
    ("passwords: [x]\npassword:\n", "passwords: [x]\npassword:\n"),
    ('password: ""\n', 'password: ""\n'),
    # block scalars, with their indented lines, chomping and indentation indicators
    ("Lab:\n  password: |\n    hunter2-secret\n  mode: ap\n",
     f"Lab:\n  password: {R}\n  mode: ap\n"),
    ("Lab:\n  password: >-\n    hunter2\n\n    -secret\n\n\n  mode: ap\n",
     f"Lab:\n  password: {R}\n\n\n  mode: ap\n"),
    ("Lab:\n  password: |2+  # why\n      hunter2-secret\n  hidden: true\n",
     f"Lab:\n  password: {R}\n  hidden: true\n"),
    ("Lab:\n  password: |\n    hunter2-secret\n", f"Lab:\n  password: {R}\n"),
    # the value on the following line(s)
    ('Lab:\n  password:\n    "hunter2\n    -secret"\n  hidden: true\n',
     f"Lab:\n  password:\n    {R}\n  hidden: true\n"),
    ("Lab:\n  password:\n    hunter2\n    -secret\n  hidden: true\n",
     f"Lab:\n  password:\n    {R}\n  hidden: true\n"),
    ("Lab:\n  password:\n    'hunter2-secret'  # c\n", f"Lab:\n  password:\n    {R}  # c\n"),
    # anchors, aliases and tags
    ('psk: &p "hunter2-secret"\nother: *p\n', f"psk: &p {R}\nother: *p\n"),
    ("x-pw: &pw hunter2-secret\nwifis: {wlan0: {access-points: {Lab: {password: *pw}}}}\n",
     f"x-pw: &pw {R}\nwifis: {{wlan0: {{access-points: {{Lab: {{password: *pw}}}}}}}}\n"),
    ("password: !!str hunter2-secret\n", f"password: !!str {R}\n"),
    ("password: &a !!str 'hunter2-secret'\n", f"password: &a !!str {R}\n"),
    # flow mappings over several lines, several documents, CRLF, text before it
    ('Lab: {\n  password: "hunter2-secret",\n  hidden: true }\n',
     f"Lab: {{\n  password: {R},\n  hidden: true }}\n"),
    ("a: 1\n---\npassword: hunter2-secret\n", f"a: 1\n---\npassword: {R}\n"),
    ("ssid: Lab\r\npassword: hunter2-secret\r\nmode: ap\r\n",
     f"ssid: Lab\r\npassword: {R}\r\nmode: ap\r\n"),
    ('"Café ☕":\n  password: hunter2-secret\n', f'"Café ☕":\n  password: {R}\n'),
    # 802.1X and WireGuard
    ("auth: {method: tls, client-key-password: hunter2-secret, identity: me}\n",
     f"auth: {{method: tls, client-key-password: {R}, identity: me}}\n"),
    ("wg0:\n  keys:\n    private: hunter2-secret\n  peers:\n    - keys: {public: pub, "
     "shared: hunter2-secret}\n",
     f"wg0:\n  keys:\n    private: {R}\n  peers:\n    - keys: {{public: pub, shared: {R}}}\n"),
    ("private: not-a-secret\nshared: true\n", "private: not-a-secret\nshared: true\n"),
    # a secret key whose value is a structure: every scalar in it
    ("password: {a: hunter2-secret, b: [hunter2-secret]}\n",
     f"password: {{{R}: {R}, {R}: [{R}]}}\n"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), NETPLAN_CASES)
def test_netplan_secrets_are_redacted_and_nothing_else(text: str, expected: str) -> None:
    shown = redact_netplan(text)
    assert shown == expected
    assert SECRET not in shown and "hunter2" not in shown
    assert redact_netplan(shown) == shown  # fixtures hold redacted files: stable


@pytest.mark.parametrize(("text", "expected"), NETPLAN_CASES)
def test_redacted_netplan_means_the_same_but_for_the_secrets(text: str, expected: str) -> None:
    def secrets_out(doc: Any) -> Any:
        if isinstance(doc, dict):
            return {k: "X" if _secret_name(k) and doc[k] else secrets_out(v)
                    for k, v in doc.items()}  # fmt: skip
        if isinstance(doc, list):
            return [secrets_out(v) for v in doc]
        return "X" if doc == REDACTED or "hunter2" in str(doc) else doc  # through an alias

    before = [secrets_out(d) for d in yaml.safe_load_all(text)]
    assert [secrets_out(d) for d in yaml.safe_load_all(redact_netplan(text))] == before


def _secret_name(key: str) -> bool:
    return key in ("password", "psk", "private", "shared") or key.endswith("-password")


def test_netplan_that_does_not_parse_is_left_out_whole() -> None:
    assert redact_netplan("password: 'hunter2-secret\n  : [\n") == UNPARSABLE
    assert redact_netplan("") == "" and redact_netplan("\n") == "\n"


def test_setting_dicts_lose_every_kind_of_secret_but_keep_their_flags() -> None:
    settings = {
        "connection": {"id": "wlan0", "uuid": "u"},
        "802-11-wireless-security": {"key-mgmt": "wpa-psk", "psk": SECRET, "psk-flags": 0,
                                     "wep-key0": SECRET, "wep-key-type": 1,
                                     "leap-password": SECRET, "leap-username": "me"},
        "802-1x": {"password": SECRET, "password-raw": [1, 2], "pin": SECRET,
                   "private-key-password": SECRET, "phase2-private-key-password": SECRET,
                   "password-flags": 1, "identity": "me"},
        "802-3-ethernet": {"wake-on-lan-password": SECRET},
        "wireguard": {"private-key": SECRET,
                      "peers": [{"public-key": "pub", "preshared-key": SECRET}]},
        "vpn": {"secrets": {"password": SECRET}, "data": {"gateway": "vpn.example"}},
        "gsm": {"puk": SECRET, "pin": ""},
    }  # fmt: skip
    shown = redact_settings(settings)
    assert SECRET not in repr(shown)
    sec = shown["802-11-wireless-security"]
    assert sec["psk"] == REDACTED and sec["psk-flags"] == 0 and sec["wep-key-type"] == 1
    assert sec["leap-username"] == "me" and shown["802-1x"]["password-flags"] == 1
    assert shown["wireguard"]["peers"][0] == {"public-key": "pub", "preshared-key": REDACTED}
    assert shown["vpn"]["data"] == {"gateway": "vpn.example"}
    assert shown["gsm"]["pin"] == ""  # no secret set is still visible as none
    assert settings["802-11-wireless-security"]["psk"] == SECRET  # a copy, not an edit
