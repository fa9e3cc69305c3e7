"""tightrope.nm against the real NetworkManager on the lab box, run from the zipapp: its own
D-Bus client (nm/lean.py, nm/wire.py), what every box runs, is what is tested.

Each test sends a small Python script to the box (`python3 -` with the zipapp on sys.path);
the script prints one JSON line that the test checks against what nmcli, ip and the files
on the box say."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from tightrope.lab import LAB_PSK, LAB_SSID, Box

pytestmark = pytest.mark.lab

# The session's zipapp, in the lab's snapshot (conftest.py): imported from, not run.
PYZ = "/root/tightrope.pyz"
PRELUDE = """
import json, os, sys, time
from tightrope.nm import writer as w
from tightrope.nm.reader import read_snapshot
def out(value):
    print(json.dumps(value, default=str))
"""


def on_box(box: Box, pyz: Path, script: str, host: str | None = None) -> Any:
    """Run the script on the box from the zipapp; returns its last JSON line."""
    if box.ssh(f"test -f {PYZ}", host=host).returncode != 0:
        box.put(pyz, PYZ, host=host)
    done = box.ssh(f"PYTHONPATH={PYZ} python3 -", input=PRELUDE + script, host=host, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def nmcli(box: Box, fields: str, what: str = "connection show") -> list[list[str]]:
    text = box.ssh(f"nmcli -t -f {fields} {what}", check=True).stdout
    return [line.replace("\\:", "\0").split(":") for line in text.splitlines()]


def test_no_d_bus_library_is_shipped_or_loaded(any_box: Box, pyz: Path) -> None:
    loaded = on_box(any_box, pyz, """
from tightrope.nm.events import EventStream
read_snapshot()
w.checkpoint_paths()
with EventStream():
    pass
out(sorted({m.split(".")[0] for m in sys.modules} & {"dbus_fast", "asyncio", "dbus", "gi"}))
""")  # fmt: skip
    assert loaded == []


def test_snapshot_agrees_with_nmcli_and_ip(any_box: Box, pyz: Path) -> None:
    snap = on_box(any_box, pyz, "out(read_snapshot().to_dict())")
    profiles = {p["uuid"]: (p["id"], p["type"], p["filename"]) for p in snap["profiles"]}
    expected = {u: (n, t, f) for n, u, t, f in nmcli(any_box, "NAME,UUID,TYPE,FILENAME")}
    assert profiles == expected
    devices = {d["interface"]: d for d in snap["devices"]}
    for name, type_, state in nmcli(any_box, "DEVICE,TYPE,STATE", "device"):
        # nmcli prints a generic device's own TypeDescription (hwsim0: "unknown").
        assert devices[name]["type"] in (type_, "generic")
        assert (devices[name]["state"] == "activated") == state.startswith("connected")
    for line in any_box.ssh("ip -br link", check=True).stdout.splitlines():
        name, _, mac = line.split()[:3]
        if name in devices and name != "lo":
            assert devices[name]["mac"] == mac.upper()
    for line in any_box.ssh("ip -4 -br addr", check=True).stdout.splitlines():
        name, _, *addrs = line.split()
        if name in devices and name != "lo":
            assert sorted(devices[name]["ip4_addresses"]) == sorted(addrs)
    assert devices["wlan0"]["ssid"] == LAB_SSID
    assert devices["eth0"]["ip4_gateway"] == "198.18.1.1"
    assert snap["session"]["ssh_server"] == "198.18.1.50"
    assert snap["nm_version"] == any_box.ssh(
        "NetworkManager --version", check=True).stdout.strip()  # fmt: skip
    assert LAB_SSID in {ap["ssid"] for ap in snap["access_points"]}
    assert LAB_PSK not in json.dumps(snap)


def test_every_key_goes_back_with_the_signature_nm_gave(any_box: Box, pyz: Path) -> None:
    """NetworkManager's own typed answer, as busctl prints it, against what to_dbus makes of
    the profile as tightrope read it: the same D-Bus type and value for every key."""
    mismatches = on_box(any_box, pyz, """
import subprocess
from tightrope.nm import constants as c
from tightrope.nm.normalise import unwrap
from tightrope.nm.to_dbus import settings_to_dbus
from tightrope.nm.wire import split_signature
def busctl(*args):
    argv = ["busctl", "--json=short", "call", c.BUS_NAME, *args]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
def plain(sig, data):
    if sig == "v":
        return plain(data["type"], data["data"])
    if sig == "ay":
        return bytes(data)
    if sig.startswith("a{"):
        kt, vt = split_signature(sig[2:-1])
        return {k: plain(vt, v) for k, v in data.items()}
    if sig.startswith("a"):
        return [plain(sig[1:], x) for x in data]
    if sig.startswith("("):
        return [plain(t, x) for t, x in zip(split_signature(sig[1:-1]), data)]
    return data
bad = []
for p in read_snapshot().profiles:
    (path,) = busctl(c.SETTINGS_PATH, c.IFACE_SETTINGS, "GetConnectionByUuid", "s", p.uuid)["data"]
    (raw,) = busctl(path, c.IFACE_CONNECTION, "GetSettings")["data"]
    back = settings_to_dbus(p.settings)
    for setting, keys in raw.items():
        for key, var in keys.items():
            if setting in ("ipv4", "ipv6") and key in ("addresses", "routes"):
                continue
            got = back.get(setting, {}).get(key)
            if got is None or (got.signature, unwrap(got)) != (
                    var["type"], plain(var["type"], var["data"])):
                bad.append([setting, key, var["type"], got and got.signature])
out(bad)
""")  # fmt: skip
    assert mismatches == []


def test_secrets_only_when_asked(any_box: Box, pyz: Path) -> None:
    psks = on_box(any_box, pyz, """
def psks(snap):
    wifi = [p for p in snap.profiles if p.type == "802-11-wireless"]
    return [p.get("802-11-wireless-security", "psk") for p in wifi]
out([psks(read_snapshot()), psks(read_snapshot(include_secrets=True))])
""")  # fmt: skip
    assert psks == [[None], [LAB_PSK]]


def test_in_memory_profile_stays_off_disk_until_persisted(any_box: Box, pyz: Path) -> None:
    result = on_box(any_box, pyz, """
settings = {"connection": {"id": "tr-dummy", "type": "bond", "interface-name": "trbond9",
                           "autoconnect": False},
            "bond": {"options": {"mode": "active-backup", "miimon": "100"}},
            "ipv4": {"method": "disabled"}, "ipv6": {"method": "ignore"}}
uuid = w.add_connection(settings, to_disk=False, block_autoconnect=True)
def where():
    p = read_snapshot().profile(uuid)
    return p and [p.filename, p.storage]
memory = where()
w.update_connection(uuid, None, to_disk=True)
disk = where()
w.delete_connection(uuid)
out([memory, disk, where()])
""")  # fmt: skip
    memory, disk, gone = result
    assert memory[0].startswith("/run/NetworkManager/") and memory[1] == "run"
    assert disk[0].startswith("/etc/NetworkManager/system-connections/") and disk[1] == "etc"
    assert gone is None


def test_checkpoint_adjust_conflict_destroy(netplan_box: Box, pyz: Path) -> None:
    result = on_box(netplan_box, pyz, """
from tightrope.nm import CheckpointConflict
cp = w.checkpoint_create(["wlan0"], 30)
w.checkpoint_adjust(cp, 300)
seen = [[c.path, list(c.devices), c.rollback_timeout_s] for c in read_snapshot().checkpoints]
try:
    w.checkpoint_create(["wlan0"], 30)
    conflict = None
except CheckpointConflict as exc:
    conflict = exc.existing
w.checkpoint_destroy(cp)
out([cp, seen, conflict, len(read_snapshot().checkpoints)])
""")  # fmt: skip
    cp, seen, conflict, left = result
    assert seen == [[cp, ["wlan0"], 300]]
    assert conflict == cp
    assert left == 0


def test_bond_in_memory_then_rollback_restores(netplan_box: Box, pyz: Path) -> None:
    """The safe-apply shape on wlan0 alone (SSH stays on eth0): checkpoint all devices, add a
    bond and its Wi-Fi port in memory, activate, watch it come up, roll back."""
    before = sorted(r[0] for r in nmcli(netplan_box, "NAME"))
    result = on_box(netplan_box, pyz, f"""
from tightrope.nm.events import EventStream
cp = w.checkpoint_create([], 120)
bond = {{"connection": {{"id": "tr-bond", "type": "bond", "interface-name": "bond0"}},
        "bond": {{"options": {{"mode": "active-backup", "miimon": "100",
                             "fail_over_mac": "active"}}}},
        "ipv4": {{"method": "manual",
                 "address-data": [{{"address": "198.18.1.64", "prefix": 24}}]}},
        "ipv6": {{"method": "disabled"}}}}
port = {{"connection": {{"id": "tr-wlan0", "type": "802-11-wireless", "interface-name": "wlan0",
                       "master": "bond0", "slave-type": "bond"}},
        "802-11-wireless": {{"ssid": {LAB_SSID!r}, "mode": "infrastructure"}},
        "802-11-wireless-security": {{"key-mgmt": "wpa-psk", "psk": {LAB_PSK!r}}}}}
states = []
with EventStream() as events:
    w.add_connection(bond, to_disk=False)
    port_uuid = w.add_connection(port, to_disk=False)
    w.activate(port_uuid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ev = events.get(timeout=1)
        if ev and ev.member == "StateChanged" and "new" in ev.values:
            states.append(ev.values["new"])
        snap = read_snapshot()
        b = snap.device("bond0")
        if b and b.bond and b.bond.active_port == "wlan0" and "activated" in states:
            break
bonded = snap.to_dict()
results = {{k: v.name for k, v in w.checkpoint_rollback(cp).items()}}
time.sleep(5)
after = read_snapshot()
out([bonded, sorted(set(states)), results, sorted(p.id for p in after.profiles),
     [d.interface for d in after.devices]])
""")  # fmt: skip
    bonded, states, results, profiles_after, devices_after = result
    devs = {d["interface"]: d for d in bonded["devices"]}
    assert devs["wlan0"]["controller"] == "bond0"
    assert devs["bond0"]["bond"]["active_port"] == "wlan0"
    assert devs["bond0"]["bond"]["fail_over_mac"] == "active"
    assert devs["bond0"]["ip4_addresses"] == ["198.18.1.64/24"]
    assert {p["id"]: p["filename"].split("/")[1] for p in bonded["profiles"]
            if p["id"].startswith("tr-")} == {"tr-bond": "run", "tr-wlan0": "run"}  # fmt: skip
    assert "activated" in states
    assert set(results.values()) == {"OK"}
    assert profiles_after == before
    assert "bond0" not in devices_after
    netplan_box.ssh("for i in $(seq 60); do nmcli -t -f DEVICE,STATE device | "
                    "grep -q '^wlan0:connected$' && exit; sleep 1; done; exit 1",
                    timeout=90, check=True)  # fmt: skip


def test_unreachable_networkmanager_is_a_clean_error(netplan_box: Box, pyz: Path) -> None:
    netplan_box.ssh("systemctl stop NetworkManager", check=True)
    try:
        if netplan_box.ssh(f"test -f {PYZ}").returncode != 0:
            netplan_box.put(pyz, PYZ)
        done = netplan_box.ssh(
            shlex.join(["env", f"PYTHONPATH={PYZ}", "python3", "-m", "tightrope.nm.capture"])
        )
    finally:
        netplan_box.ssh("systemctl start NetworkManager", check=True)
    assert done.returncode == 4
    assert "NetworkManager is not running" in done.stderr
    assert "Traceback" not in done.stderr


def test_update_with_its_own_settings_changes_nothing(any_box: Box, pyz: Path) -> None:
    """Restoring a profile through Update2 from a snapshot's JSON settings: nothing changes,
    the file stays where it was, and the PSK survives although the settings carry none."""
    result = on_box(any_box, pyz, """
snap = read_snapshot()
p = next(p for p in snap.profiles if p.type == "802-11-wireless")
before = w.get_settings(p.uuid, include_secrets=True)
w.update_connection(p.uuid, p.settings, to_disk=p.storage == "etc", no_reapply=True)
after = w.get_settings(p.uuid, include_secrets=True)
again = read_snapshot().profile(p.uuid)
for s in (before, after):
    s["connection"].pop("timestamp", None)
out([before == after, p.filename == again.filename,
     after["802-11-wireless-security"].get("psk") is not None,
     sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))])
""")  # fmt: skip
    same, same_file, psk_kept, differing = result
    assert differing == [] and same
    assert same_file
    assert psk_kept
