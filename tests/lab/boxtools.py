"""Running tightrope on a lab box: ship the zipapp, write a config, read the outcome."""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

from tightrope.errors import LabError
from tightrope.lab import LAB_PSK, LAB_SSID, Box, Lab

PYZ = "/root/tightrope.pyz"
NEW = "198.18.1.64"
OLD = "198.18.1.50"

# Read every profile with its secrets straight from NetworkManager, as tightrope sees them.
_DUMP = (
    "import json,sys; sys.path.insert(0, '/root/tightrope.pyz');"
    "from tightrope.nm import read_snapshot;"
    "s = read_snapshot(include_secrets=True);"
    "print(json.dumps([[p.uuid, p.id, p.filename, p.settings] for p in s.profiles]))"
)
# NetworkManager stamps these on its own; they say nothing about the profile set.
_VOLATILE = {("connection", "timestamp")}


def install(box: Box, pyz: Path, host: str | None = None) -> None:
    """The zipapp on the box, compiled once as its first start as root does (then every
    command a test times is the command, not the one-off compilation)."""
    box.put(pyz, PYZ, host=host)
    box.ssh(f"python3 {PYZ} --version", host=host, timeout=120, check=True)


def config_text(
    *,
    ssid: str = LAB_SSID,
    address: str = f"{NEW}/24",
    gateway: str = "198.18.1.1",
    extra: str = "",
) -> str:
    return (
        "ports:\n  eth0: {type: ethernet}\n"
        f"  wlan0: {{type: wifi, ssid: {ssid}, psk-file: /root/wlan0.psk}}\n"
        f"ipv4:\n  addresses: [{address}]\n  gateway: {gateway}\n"
        "  nameservers: {addresses: [198.18.1.1]}\n" + extra
    )


def write_config(box: Box, text: str, psk: str = LAB_PSK, host: str | None = None) -> None:
    box.ssh(
        "umask 077; cat > /root/bond.yaml; printf %s " + shlex.quote(psk) + " > /root/wlan0.psk",
        input=text,
        host=host,
        check=True,
    )


def tr(box: Box, args: str, host: str | None = None, timeout: float = 120) -> Any:
    return box.ssh(f"COLUMNS=160 python3 {PYZ} {args}", host=host, timeout=timeout)


def profiles(box: Box, host: str | None = None) -> dict[str, Any]:
    cp = box.ssh(["python3", "-c", _DUMP], host=host, timeout=60, check=True)
    out = {}
    for uuid, pid, filename, settings in json.loads(cp.stdout):
        if settings.get("connection", {}).get("type") == "loopback":
            continue  # NetworkManager makes a new `lo` profile at every start; not ours
        for setting, key in _VOLATILE:
            settings.get(setting, {}).pop(key, None)
        out[uuid] = {"id": pid, "filename": filename, "settings": settings}
    return out


def try_ssh(box: Box, cmd: str, host: str, timeout: float = 20) -> Any:
    """box.ssh that reports an unreachable box as a failed command instead of raising: polling
    loops run while the box moves between addresses."""
    try:
        return box.ssh(cmd, host=host, timeout=timeout)
    except LabError:
        return subprocess.CompletedProcess([cmd], 255, "", "timed out")


def wait_ssh(box: Box, host: str, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if try_ssh(box, "true", host).returncode == 0:
            return time.monotonic() - t0
        time.sleep(0.5)
    raise AssertionError(f"{host} did not answer SSH within {timeout:.0f} s")


def txn_state(box: Box, host: str) -> dict[str, Any]:
    cp = box.ssh(
        "d=/var/lib/tightrope/txn; cat $d/$(ls $d | tail -1)/state.json", host=host, timeout=30
    )
    assert cp.returncode == 0, cp.stderr
    state: dict[str, Any] = json.loads(cp.stdout)
    return state


def wait_phase(box: Box, host: str, phases: tuple[str, ...], timeout: float) -> dict[str, Any]:
    t0 = time.monotonic()
    last: dict[str, Any] = {}
    while time.monotonic() - t0 < timeout:
        cp = try_ssh(box, "d=/var/lib/tightrope/txn; cat $d/$(ls $d | tail -1)/state.json", host)
        if cp.returncode == 0 and cp.stdout.strip():
            last = json.loads(cp.stdout)
            if last.get("phase") in phases:
                return last
        time.sleep(1)
    raise AssertionError(f"phase {phases} not reached in {timeout:.0f} s; last {last}\n"
                         f"{runner_stacks(box, host)}")


def runner_stacks(box: Box, host: str) -> str:
    """Where a runner that seems stuck is: its threads' stacks (SIGUSR1, box/run.py), the
    journal's last lines and NetworkManager's (what a port waited for), for the failure's
    message."""
    for at in dict.fromkeys((host, OLD, NEW)):  # where the box answers, if it does at all
        if try_ssh(box, "true", at).returncode == 0:
            break
    try_ssh(box, "systemctl kill -s USR1 'tightrope-txn-*' >/dev/null 2>&1; sleep 1", at)
    cp = try_ssh(box, "journalctl -t tightrope -n 150 --no-pager -o short-monotonic; "
                 "echo '--- /root/apply.out:'; tail -c 3000 /root/apply.out; "
                 "echo '--- NetworkManager:'; journalctl -u NetworkManager -u wpa_supplicant "
                 "-n 400 --no-pager -o short-monotonic | grep -E 'wlan0|eth0|bond0' | "
                 "tail -n 150 | cut -c1-240", at)  # fmt: skip
    return f"runner journal at {at} (after SIGUSR1):\n{cp.stdout[-40000:]}"


def start_apply(box: Box, options: str = "", host: str | None = None) -> None:
    """Start `apply --no-wait`; the SSH session may die as the address moves, that is fine
    (exit 255), but an apply that refused or failed to start fails the test with its words."""
    cp = box.ssh(
        f"python3 {PYZ} apply /root/bond.yaml --yes --no-wait {options} > /root/apply.out 2>&1",
        host=host,
        timeout=60,
    )
    if cp.returncode not in (0, 255):
        out = box.ssh("cat /root/apply.out", host=host, timeout=30).stdout
        raise AssertionError(f"apply --no-wait exited {cp.returncode}:\n{out[-3000:]}")


def both_ports_up(box: Box, timeout_s: int = 90) -> None:
    """Wait until `tightrope status` shows the bond with both ports' links up (Wi-Fi
    re-associates after a boot or a drill), or fail."""
    for _ in range(timeout_s):
        status = json.loads(tr(box, "status --json", host=NEW).stdout)
        ports = status["bonds"][0]["ports"] if status["bonds"] else []
        if len(ports) == 2 and all(p["link"] == "up" for p in ports):
            return
        time.sleep(1)
    raise AssertionError("the bond's ports did not both come up")


def cable_failover(lab: Lab, box: Box) -> None:
    """With the bond committed at NEW: once both ports are in, pulling the cable moves the
    traffic to wlan0 (probes from the laptop answered, no gap of 3 s), and plugging it back
    moves it back to eth0 (the primary)."""
    both_ports_up(box, 90)  # Wi-Fi re-associates after a boot
    run = lab.start_ping(NEW, seconds=8)
    time.sleep(2)
    box.pull_cable()
    time.sleep(3)
    result = run.result()
    assert result.received > 0 and result.longest_gap_ms() < 3000, result.longest_gap_ms()
    active = json.loads(tr(box, "status --json", host=NEW).stdout)["bonds"][0]
    assert active["active_port"] == "wlan0"
    box.plug_cable()
    for _ in range(30):
        active = json.loads(tr(box, "status --json", host=NEW).stdout)["bonds"][0]
        if active["active_port"] == "eth0":
            break
        time.sleep(1)
    assert active["active_port"] == "eth0"  # primary: traffic fails back to the cable


def undo_and_confirm(box: Box) -> dict[str, Any]:
    """With the bond committed at NEW: `undo` on the box, confirmed at OLD once it asks; the
    undo's final state."""
    box.ssh(f"python3 {PYZ} undo --no-wait --confirm-timeout 60 --verify-timeout 90 "
            ">/dev/null 2>&1", host=NEW, timeout=30)  # fmt: skip
    wait_phase(box, OLD, ("awaiting-confirm",), 240)
    cp = tr(box, "confirm")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return wait_phase(box, OLD, ("committed", "rolled-back", "failed"), 60)
