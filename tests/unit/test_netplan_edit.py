from __future__ import annotations

import yaml

from tightrope.core.netplan_edit import remove_stanzas

CLOUD_INIT = """\
# This file is generated from information provided by the datasource.
network:
  version: 2
  renderer: NetworkManager
  ethernets:
    eth0:                 # the onboard port
      dhcp4: true
      optional: true
    usb0:
      dhcp4: true
  wifis:
    wlan0:
      dhcp4: true
      access-points:
        "Home WiFi":
          password: "lab-only-passphrase"
"""


def test_removes_only_the_port_stanzas_and_keeps_comments() -> None:
    edit = remove_stanzas(CLOUD_INIT, [("ethernets", "eth0"), ("wifis", "wlan0")])
    assert edit.preserved_layout and not edit.empty
    assert "# This file is generated" in edit.text
    doc = yaml.safe_load(edit.text)
    assert doc == {"network": {"version": 2, "renderer": "NetworkManager",
                               "ethernets": {"usb0": {"dhcp4": True}}}}


def test_last_device_gone_leaves_an_empty_network() -> None:
    edit = remove_stanzas(CLOUD_INIT, [("ethernets", "eth0"), ("ethernets", "usb0"),
                                       ("wifis", "wlan0")])
    assert edit.empty
    assert yaml.safe_load(edit.text) == {"network": {"version": 2,
                                                     "renderer": "NetworkManager"}}


def test_flow_style_falls_back_to_a_rewrite() -> None:
    text = "network: {version: 2, ethernets: {eth0: {dhcp4: true}, eth1: {dhcp4: true}}}\n"
    edit = remove_stanzas(text, [("ethernets", "eth0")])
    assert not edit.preserved_layout
    assert yaml.safe_load(edit.text) == {"network": {"version": 2,
                                                     "ethernets": {"eth1": {"dhcp4": True}}}}


def test_match_stanza_key_is_removed_by_its_id() -> None:
    text = ("network:\n  ethernets:\n    lan:\n      match:\n        name: eth*\n"
            "      set-name: eth0\n    other:\n      match: {macaddress: 'aa:bb:cc:dd:ee:ff'}\n")
    edit = remove_stanzas(text, [("ethernets", "lan")])
    assert edit.preserved_layout
    assert list(yaml.safe_load(edit.text)["network"]["ethernets"]) == ["other"]
