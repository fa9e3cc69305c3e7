"""Readers of netplan, networkd, NetworkManager and kernel files, on a temporary root, and
their pure parsers; plus the decoder of NetworkManager's signals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tightrope.core.snapshot import Session
from tightrope.nm import constants as c
from tightrope.nm import system
from tightrope.nm.events import decode_signal


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_ssh_connection() -> None:
    assert system.parse_ssh_connection("198.18.1.10 51234 198.18.1.50 22") == Session(
        "198.18.1.10", "198.18.1.50", 22
    )
    assert system.parse_ssh_connection(None) == Session()
    assert system.parse_ssh_connection("garbage") == Session()
    assert system.parse_ssh_connection("a 1 b port").ssh_port is None


def test_netplan_files_from_all_three_directories(tmp_path: Path) -> None:
    write(tmp_path, "etc/netplan/50-cloud-init.yaml", "network: {version: 2}\n", 0o600)
    write(tmp_path, "lib/netplan/00-base.yaml", "network: {}\n")
    write(tmp_path, "etc/netplan/README", "not yaml\n")
    files = system.read_netplan_files(tmp_path)
    assert files == {
        "/lib/netplan/00-base.yaml": "network: {}\n",
        "/etc/netplan/50-cloud-init.yaml": "network: {version: 2}\n",
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_netplan_files_are_left_out(tmp_path: Path) -> None:
    write(tmp_path, "etc/netplan/50-secret.yaml", "psk\n", 0o000)
    assert system.read_netplan_files(tmp_path) == {}


def test_nm_uses_netplan_from_maps_then_binary(tmp_path: Path) -> None:
    maps = "7f00-7f10 r-xp 0 08:01 1 /usr/lib/x86_64-linux-gnu/libnetplan.so.1\n"
    write(tmp_path, "proc/42/maps", maps)
    assert system.nm_uses_netplan(42, tmp_path)
    assert not system.nm_uses_netplan(None, tmp_path)  # no binary either
    binary = tmp_path / "usr/sbin/NetworkManager"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF\x00libc.so.6\x00libnetplan.so.1\x00")
    assert system.nm_uses_netplan(None, tmp_path)
    binary.write_bytes(b"\x7fELF\x00libc.so.6\x00")
    assert not system.nm_uses_netplan(7, tmp_path)


def test_bond_texts(tmp_path: Path) -> None:
    write(tmp_path, "proc/net/bonding/bond0", "Bonding Mode: x\n")
    assert system.read_bond_texts(["bond0", "bond1"], tmp_path) == {"bond0": "Bonding Mode: x\n"}


def test_networkd_links(tmp_path: Path) -> None:
    write(tmp_path, "run/systemd/netif/links/2", "ADMIN_STATE=configured\nOPER_STATE=routable\n")
    write(tmp_path, "run/systemd/netif/links/3", "ADMIN_STATE=unmanaged\n")
    write(tmp_path, "run/systemd/netif/links/4", "OPER_STATE=off\n")
    write(tmp_path, "run/systemd/netif/links/5", "ADMIN_STATE=configuring\n")
    write(tmp_path, "run/systemd/netif/links/.lock", "")
    names = {2: "eth0", 3: "wlan0", 4: "lo", 5: None}
    assert system.read_networkd_links(tmp_path, names.get) == ("eth0",)
    assert system.read_networkd_links(tmp_path / "nowhere") == ()


def test_iw_power_save() -> None:
    assert system.parse_iw_power_save("Power save: on\n") is True
    assert system.parse_iw_power_save("Power save: off\n") is False
    assert system.parse_iw_power_save("command failed: No such device (-19)\n") is None


def test_nm_conf_powersave_later_files_win() -> None:
    texts = [
        "[main]\nplugins=keyfile\n[connection]\nwifi.powersave = 3\n",
        "[connection-wifi]\nmatch-device=interface-name:wlan0\nwifi.powersave=2\n",
        "[connection]\n# wifi.powersave=3\nwifi.powersave=junk\n",
    ]
    assert system.parse_nm_conf_powersave(texts) == 2
    assert system.parse_nm_conf_powersave(["[main]\nwifi.powersave=3\n"]) is None


def test_nm_conf_texts_in_order(tmp_path: Path) -> None:
    write(tmp_path, "etc/NetworkManager/NetworkManager.conf", "[connection]\nwifi.powersave=3\n")
    write(tmp_path, "etc/NetworkManager/conf.d/default-wifi-powersave-on.conf",
          "[connection]\nwifi.powersave=2\n")  # fmt: skip
    texts = system.read_nm_conf_texts(tmp_path)
    assert system.parse_nm_conf_powersave(texts) == 2


def test_effective_powersave() -> None:
    assert system.effective_powersave(3, None) is True
    assert system.effective_powersave(2, 3) is False
    assert system.effective_powersave(0, 3) is True
    assert system.effective_powersave(None, 2) is False
    assert system.effective_powersave(1, 3) is None
    assert system.effective_powersave(None, None) is None


def test_wifi_powersave_prefers_the_driver() -> None:
    live = {"wlan0": True, "wlan1": None}.get
    result = system.wifi_powersave({"wlan0": 2, "wlan1": 2, "wlan2": None}, None, live)
    assert result == {"wlan0": True, "wlan1": False}


# -- signals -------------------------------------------------------------------------------


def test_device_state_changed() -> None:
    event = decode_signal("/org/freedesktop/NetworkManager/Devices/3", c.IFACE_DEVICE,
                          "StateChanged", [120, 50, 7])  # fmt: skip
    assert event is not None
    assert event.values == {"new": "failed", "old": "config", "reason": "no-secrets"}


def test_properties_changed_is_jsonable() -> None:
    event = decode_signal("/org/freedesktop/NetworkManager/AccessPoint/1", c.IFACE_PROPERTIES,
                          "PropertiesChanged", [c.IFACE_AP, {"Ssid": b"ab"}, []])  # fmt: skip
    assert event is not None
    assert (event.interface, event.values) == (c.IFACE_AP, {"Ssid": [97, 98]})


def test_active_state_and_daemon_restart() -> None:
    active = decode_signal("/org/freedesktop/NetworkManager/ActiveConnection/4", c.IFACE_ACTIVE,
                           "StateChanged", [2, 1])  # fmt: skip
    assert active is not None and active.values == {"state": "activated", "reason": 1}
    gone = decode_signal("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                         [c.BUS_NAME, ":1.4", ""])  # fmt: skip
    assert gone is not None and gone.values == {"old": ":1.4", "new": ""}


def test_foreign_signals_are_dropped() -> None:
    assert decode_signal("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameAcquired",
                         [":1.9"]) is None  # fmt: skip
    other = decode_signal(c.SETTINGS_PATH, c.IFACE_SETTINGS, "NewConnection", ["/x"])
    assert other is not None and other.values == {"args": ["/x"]}


def test_dbus_errors_map_to_tightrope_errors() -> None:
    from tightrope.errors import BackendUnavailable
    from tightrope.nm.errors import CheckpointConflict, NMError, NMPermissionDenied, error_from

    gone = error_from("x.GetManagedObjects", "org.freedesktop.DBus.Error.ServiceUnknown", "")
    assert isinstance(gone, BackendUnavailable)
    # The text NetworkManager 1.42 sends (seen in the lab) when a checkpoint is left over.
    text = ("device 'wlan0' is already included in checkpoint "
            "/org/freedesktop/NetworkManager/Checkpoint/1")  # fmt: skip
    conflict = error_from("NetworkManager.CheckpointCreate",
                          "org.freedesktop.NetworkManager.InvalidArguments", text)  # fmt: skip
    assert isinstance(conflict, CheckpointConflict)
    assert conflict.existing == "/org/freedesktop/NetworkManager/Checkpoint/1"
    denied = error_from("x.AddConnection2", "org.freedesktop.NetworkManager.PermissionDenied", "")
    assert isinstance(denied, NMPermissionDenied) and isinstance(denied, PermissionError)
    other = error_from("x.Update2", "org.freedesktop.NetworkManager.Settings.InvalidProperty",
                       "ipv4.method: bad")  # fmt: skip
    assert type(other) is NMError and other.name.endswith("InvalidProperty")


def test_netplan_files_redacted_unless_secrets_asked(tmp_path: Path) -> None:
    write(tmp_path, "etc/netplan/50-cloud-init.yaml",
          'network:\n  wifis:\n    wlan0:\n      access-points:\n        "Lab":\n'
          '          password: "hunter22"\n')  # fmt: skip
    assert "hunter22" not in system.read_netplan_files(tmp_path)["/etc/netplan/50-cloud-init.yaml"]
    assert "hunter22" in system.read_netplan_files(tmp_path, include_secrets=True)[
        "/etc/netplan/50-cloud-init.yaml"
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="the memo is root's alone")
def test_redacted_netplan_texts_are_kept_while_their_files_stay_the_same(tmp_path: Path) -> None:
    import json

    write(tmp_path, "etc/netplan/50-cloud-init.yaml",
          'network:\n  wifis:\n    wlan0:\n      access-points:\n        "Lab":\n'
          '          password: "hunter22"\n')  # fmt: skip
    memo = tmp_path / "run/tightrope/netplan-redacted.json"
    where = "/etc/netplan/50-cloud-init.yaml"
    first = system.read_netplan_files(tmp_path, memo=memo)[where]
    assert "hunter22" not in first and "hunter22" not in memo.read_text()
    assert memo.stat().st_mode & 0o777 == 0o600 and memo.parent.stat().st_mode & 0o777 == 0o700
    # What the memo holds is what a read gives while the file is unchanged: mark it to see.
    kept = json.loads(memo.read_text())
    kept[where][1] = "marked"
    memo.write_text(json.dumps(kept))
    assert system.read_netplan_files(tmp_path, memo=memo)[where] == "marked"
    # A memo others could write is not trusted.
    memo.chmod(0o666)
    assert system.read_netplan_files(tmp_path, memo=memo)[where] == first
    # A changed file is redacted again, and the memo follows.
    write(tmp_path, "etc/netplan/50-cloud-init.yaml", "network:\n  version: 2\n")
    assert system.read_netplan_files(tmp_path, memo=memo)[where] == "network:\n  version: 2\n"
    assert json.loads(memo.read_text())[where][1] == "network:\n  version: 2\n"
    # With secrets asked for, the memo is neither read nor written.
    assert system.read_netplan_files(tmp_path, include_secrets=True, memo=memo)[where] == (
        "network:\n  version: 2\n")
