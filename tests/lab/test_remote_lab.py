"""Remote mode from the admin's laptop (the laptop namespace) against the lab box."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lab.boxtools import NEW, OLD, config_text, wait_ssh
from tightrope.lab import LAB_PSK, Box, Lab
from tightrope.remote.zipapp import CACHE_DIR

pytestmark = pytest.mark.lab
FAST = ["--confirm-timeout", "30", "--verify-timeout", "40"]


def _laptop_argv(lab: Lab, box: Box, *args: str) -> list[str]:
    ssh = [
        "--ssh-config",
        "/dev/null",
        "--ssh-option",
        f"IdentityFile={box.image.key}",
        "--ssh-option",
        "IdentitiesOnly=yes",
        "--ssh-option",
        f"UserKnownHostsFile={box.known_hosts}",
        "--ssh-option",
        "GlobalKnownHostsFile=/dev/null",
        "--ssh-option",
        "StrictHostKeyChecking=yes",
    ]
    return [
        "ip",
        "netns",
        "exec",
        lab.topology.laptop_ns,
        sys.executable,
        "-m",
        "tightrope",
        *args,
        *ssh,
    ]


def _journey_argv(lab: Lab, box: Box, cfg: Path, windows: list[str] = FAST) -> list[str]:
    """The seed's journey from the laptop: apply at the old address, follow the box."""
    return _laptop_argv(lab, box, "apply", str(cfg), "--host", f"root@{OLD}", "--yes", "--json",
                        *windows)  # fmt: skip


def _config(tmp_path: Path, psk: str = LAB_PSK, **kw: Any) -> Path:
    psk_file = tmp_path / "wlan0.psk"
    psk_file.write_text(psk)
    psk_file.chmod(0o600)
    cfg = tmp_path / "bond.yaml"
    cfg.write_text(config_text(**kw).replace("/root/wlan0.psk", str(psk_file)))
    cfg.chmod(0o600)
    return cfg


def _events(stdout: str) -> list[dict[str, Any]]:
    """--json streams one document per event; pretty-printed, so split on top-level braces."""
    docs, depth, start = [], 0, 0
    for i, ch in enumerate(stdout):
        if ch == "{":
            depth += 1
            if depth == 1:
                start = i
        elif ch == "}":
            depth -= 1
            if depth == 0:
                docs.append(json.loads(stdout[start : i + 1]))
    return docs


def _summary(stdout: str) -> dict[str, Any]:
    (summary,) = [e for e in _events(stdout) if e.get("event") == "summary"]
    result: dict[str, Any] = summary["results"][0]
    return result


def test_remote_seed_journey(rpios_lab: Lab, rpios_box: Box, tmp_path: Path) -> None:
    """The seed's journey from the laptop, on the box whose profiles are NetworkManager's own
    keyfiles (the netplan box's is test_terminal_lab's, in a real terminal)."""
    lab, box = rpios_lab, rpios_box
    cfg = _config(tmp_path)
    # A box that has never had tightrope: the laptop sends it, the box compiles it.
    box.ssh(f"rm -rf {CACHE_DIR}", check=True)
    watch = _ArgvWatch()
    cp = subprocess.run(
        _journey_argv(lab, box, cfg),
        capture_output=True,
        text=True,
        timeout=600,
    )
    watch.stop()
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-3000:]
    result = _summary(cp.stdout)
    assert result["outcome"] == "committed" and result["new_address"] == NEW
    print(f"remote journey: {result['seconds']:.1f} s, outage {result['outage_s']}")
    assert LAB_PSK not in watch.seen, "the PSK showed in a laptop-side argv"
    sent = box.ssh(f"ls {CACHE_DIR}", host=NEW, check=True).stdout.split()
    assert any(n.endswith(".pyz") for n in sent) and len(sent) == 2, sent  # the file, its tree
    status = subprocess.run(
        _laptop_argv(lab, box, "status", "--json", "--host", f"root@{NEW}"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(status.stdout)["bonds"][0]["active_port"] == "eth0"


def test_remote_wrong_psk_commits_on_the_cable_and_says_wlan0_is_missing(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path
) -> None:
    """By default the cable carries the bond and Wi-Fi's join is not waited for (issue 18):
    a wrong PSK is committed without wlan0, and the result says so. With --verify-all-ports
    it rolls back (test_terminal_lab, test_failfast_lab)."""
    cfg = _config(tmp_path, psk="not-the-lab-passphrase")
    cp = subprocess.run(
        _journey_argv(netplan_lab, netplan_box, cfg),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    result = _summary(cp.stdout)
    assert result["outcome"] == "committed" and result["new_address"] == NEW, result
    print(f"wrong PSK by default: committed after {result['seconds']:.0f} s: {result['reason']}")
    # Which of the three depends on how far wlan0 had got by the commit: NetworkManager gave
    # up on it, its handshake was cut (a faster commit, since 7cce056, often sees only this),
    # or it was still joining.
    assert ("wlan0 is not in bond0" in result["reason"]
            or "wlan0 had not joined bond0 at the commit" in result["reason"]
            or "wlan0 was still joining bond0" in result["reason"]), result  # fmt: skip
    assert "not-the-lab-passphrase" not in cp.stdout + cp.stderr
    # The box's own copy (the lab's snapshot) is this very build: the laptop sent nothing.
    cached = netplan_box.ssh(f"ls {CACHE_DIR}", host=NEW, check=True).stdout.split()
    assert not any(n.endswith(".pyz") for n in cached), cached
    status = subprocess.run(
        _laptop_argv(netplan_lab, netplan_box, "status", "--json", "--host", f"root@{NEW}"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    (bond,) = json.loads(status.stdout)["bonds"]
    assert bond["active_port"] == "eth0", bond


def test_ssh_cut_mid_journey_tells_the_truth(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path
) -> None:
    cfg = _config(tmp_path)
    # The shortest windows a good change passes in (the cable verified, Wi-Fi not waited for):
    # the laptop stays cut off for longer than both.
    confirm_s, verify_s = 20, 30
    windows = ["--confirm-timeout", str(confirm_s), "--verify-timeout", str(verify_s)]
    proc = subprocess.Popen(
        _journey_argv(netplan_lab, netplan_box, cfg, windows),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Cut the laptop off as soon as the transaction starts, for longer than the confirm window.
    import threading

    ns = netplan_lab.topology.laptop_ns
    lines: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    reader.start()
    for _ in range(600):
        if any('"started"' in ln for ln in lines):
            break
        time.sleep(0.2)
    subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "down"], check=True)
    time.sleep(confirm_s + verify_s + 10)
    subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True)
    subprocess.run(
        ["ip", "-n", ns, "route", "replace", "default", "via", "198.18.1.1"], check=False
    )
    proc.wait(timeout=600)
    reader.join(timeout=10)
    err = proc.stderr.read() if proc.stderr else ""
    out, rest = "".join(lines), ""
    result = _summary(out + rest)
    assert result["outcome"] in ("rolled-back", "committed"), result
    # The truth: whatever it says must be what the box did.
    host = NEW if result["outcome"] == "committed" else OLD
    wait_ssh(netplan_box, host, 60)
    assert proc.returncode == (0 if result["outcome"] == "committed" else 1), err[-2000:]


class _ArgvWatch:
    """Reads every process's argv on this machine (the laptop side) while the journey runs."""

    def __init__(self) -> None:
        import threading

        self.seen = ""
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    if LAB_PSK.encode() in argv:
                        self.seen += argv.decode(errors="replace")
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def test_fleet_canary_stops_at_a_bad_box(netplan_pair: Lab, tmp_path: Path) -> None:
    """Two boxes through the fleet path; box1 cannot join Wi-Fi (its access point is off).
    Canary first: box1 fails and rolls back, box0 is not touched. Then both in parallel
    without canary: box0 ends bonded, box1 rolled back, and the summary says so."""
    lab = netplan_pair
    box0, box1 = lab.boxes
    box1.ssh("ip netns exec ap pkill hostapd", host=box1.spec.eth0_ip, check=False)
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        f"- {{host: root@{box1.spec.eth0_ip}, address: 198.18.1.65/24}}\n"
        f"- {{host: root@{box0.spec.eth0_ip}, address: 198.18.1.64/24}}\n"
    )
    cfg = _config(tmp_path)
    # Every port verified: by default box1's cable would carry its bond without Wi-Fi.
    base = ["apply", str(cfg), "--hosts", str(hosts), "--yes", "--json", *FAST,
            "--verify-all-ports"]
    cp, summary = _fleet(lab, box0, *base, "--canary", "1")
    outcomes = {r["host"]: r["outcome"] for r in summary["results"]}
    assert cp.returncode == 1, cp.stdout[-4000:] + cp.stderr[-2000:]
    assert outcomes == {
        f"root@{box1.spec.eth0_ip}": "rolled-back",
        f"root@{box0.spec.eth0_ip}": "skipped",
    }, summary
    assert "198.18.1.50/24" in box0.ssh("ip -4 -o addr show eth0").stdout

    cp, summary = _fleet(lab, box0, *base, "--parallel", "2")
    outcomes = {r["host"]: r["outcome"] for r in summary["results"]}
    assert outcomes == {
        f"root@{box1.spec.eth0_ip}": "rolled-back",
        f"root@{box0.spec.eth0_ip}": "committed",
    }, [(r["host"], r["outcome"], r.get("reason")) for r in summary["results"]]
    wait_ssh(box0, "198.18.1.64", 60)
    wait_ssh(box1, box1.spec.eth0_ip, 60)


def _fleet(lab: Lab, box: Box, *args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """A fleet run from the laptop, and its summary event."""
    cp = subprocess.run(_laptop_argv(lab, box, *args), capture_output=True, text=True,
                        timeout=900)  # fmt: skip
    (summary,) = [e for e in _events(cp.stdout) if e.get("event") == "summary"]
    return cp, summary
