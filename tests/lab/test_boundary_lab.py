"""The laptop<->box boundary in the lab: the user's ssh_config alias carries the journey to the
new address, a box whose key cannot be checked there is refused before anything changes, an
impostor at the new address gets no confirmation, and `undo --host` follows the box back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.lab.boxtools import NEW, OLD, PYZ, profiles, wait_ssh
from tests.lab.test_remote_lab import _config, _events, _laptop_argv, _summary
from tightrope.lab import Box, Lab
from tightrope.lab.net import LAPTOP
from tightrope.lab.proc import netns
from tightrope.lab.topology import remove_namespace

pytestmark = pytest.mark.lab
FAST = ["--confirm-timeout", "30", "--verify-timeout", "40"]
ALT_PORT = 2222
SSHD = "/usr/sbin/sshd"


def _run(argv: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def _tightrope(lab: Lab, *args: str) -> list[str]:
    """tightrope from the laptop namespace with no lab default SSH options: whatever the box
    needs comes from the user's own ssh_config."""
    return netns(lab.topology.laptop_ns, [sys.executable, "-m", "tightrope", *args])


def _ssh_config(tmp_path: Path, box: Box, name: str, known_hosts: str, strict: str) -> Path:
    cfg = tmp_path / f"ssh_config.{name}"
    cfg.write_text(
        "Host pibox\n"
        f"  HostName {OLD}\n"
        f"  Port {ALT_PORT}\n"
        "  User root\n"
        f"  IdentityFile {box.image.key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n"
        "  GlobalKnownHostsFile /dev/null\n"
        f"  StrictHostKeyChecking {strict}\n"
    )
    return cfg


def _txn_count(box: Box) -> str:
    cp = box.ssh("ls /var/lib/tightrope/txn 2>/dev/null | wc -l", timeout=30, check=True)
    return cp.stdout.strip()


def _why(box: Box, cp: subprocess.CompletedProcess[str]) -> str:
    """The journey's last words, and the box's own log of the transaction it ran."""
    out = cp.stdout[-3000:] + cp.stderr[-3000:]
    txns = [e.get("results", [{}])[0].get("txn") for e in _events(cp.stdout)
            if e.get("event") == "summary"]  # fmt: skip
    for host in (OLD, NEW):
        if txns and txns[0]:
            log = box.ssh(f"python3 {PYZ} log {txns[0]}", host=host, timeout=60)
            if log.returncode == 0:
                return f"{out}\n--- the box's log of {txns[0]} ---\n{log.stdout[-4000:]}"
    return out


def _netplan_files(box: Box, host: str) -> str:
    """Every file under /etc/netplan: name, mode, owner and sha256 of its bytes."""
    cp = box.ssh(
        "cd /etc/netplan && find . -type f | sort | while read -r f; do "
        'printf "%s %s " "$(stat -c "%a %U:%G" "$f")" "$(sha256sum < "$f" | cut -c1-64)"; '
        'echo "$f"; done',
        host=host,
        timeout=30,
        check=True,
    )
    return cp.stdout


def test_journey_through_an_ssh_config_alias_on_port_2222(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path
) -> None:
    box = netplan_box
    box.ssh(
        f"printf 'Port 22\\nPort {ALT_PORT}\\n' > /etc/ssh/sshd_config.d/tightrope-{ALT_PORT}.conf"
        " && systemctl restart ssh",
        timeout=60,
        check=True,
    )
    known = tmp_path / "known_hosts"
    known.write_text(f"[{OLD}]:{ALT_PORT} {box.image.host_key}\n")
    good = _ssh_config(tmp_path, box, "good", str(known), "yes")
    # Sanity: the alias alone reaches the box on 2222 from the laptop.
    cp = _run(netns(netplan_lab.topology.laptop_ns, ["ssh", "-F", str(good), "-o",
              "BatchMode=yes", "pibox", "ss -ltnH"]), timeout=60)  # fmt: skip
    assert cp.returncode == 0 and f":{ALT_PORT}" in cp.stdout, cp.stdout + cp.stderr

    before, txns = profiles(box), _txn_count(box)
    cfg = _config(tmp_path)

    # Refused before anything changes: (a) known_hosts lacks the key, so ssh itself refuses
    # the first contact; (b) ssh trusts blindly (no known_hosts at all), so the first contact
    # and the plan work, but the journey could not check the key at the new address.
    empty = tmp_path / "known_hosts.empty"
    empty.write_text("")
    refusals = {
        "key-missing": _ssh_config(tmp_path, box, "key-missing", str(empty), "yes"),
        "no-known-hosts": _ssh_config(tmp_path, box, "blind", "/dev/null", "no"),
    }
    for what, ssh_cfg in refusals.items():
        t0 = time.monotonic()
        cp = _run(_tightrope(netplan_lab, "apply", str(cfg), "--host", "pibox", "--ssh-config",
                             str(ssh_cfg), "--yes", "--json", *FAST), timeout=300)  # fmt: skip
        out = cp.stdout[-3000:] + cp.stderr[-3000:]
        assert cp.returncode == 9, f"{what}: {out}"
        result = _summary(cp.stdout)
        assert result["outcome"] == "failed" and result["exit_code"] == 9, (what, result)
        if what == "no-known-hosts":
            assert f"no host key for [{OLD}]:{ALT_PORT}" in result["reason"], result
        else:
            assert "host key" in result["reason"], result
        assert "started" not in [e.get("event") for e in _events(cp.stdout)], out
        print(f"refused ({what}) in {time.monotonic() - t0:.1f} s: {result['reason'][:160]}")
        assert profiles(box) == before, what
        assert _txn_count(box) == txns, f"{what}: a transaction was started"
        assert f"{OLD}/24" in box.ssh("ip -4 -o addr show eth0", check=True).stdout

    t0 = time.monotonic()
    cp = _run(_tightrope(netplan_lab, "apply", str(cfg), "--host", "pibox", "--ssh-config",
                         str(good), "--yes", "--json", *FAST))  # fmt: skip
    assert cp.returncode == 0, _why(box, cp)
    result = _summary(cp.stdout)
    assert result["outcome"] == "committed" and result["new_address"] == NEW, result
    print(f"alias journey on {ALT_PORT}: {result['seconds']:.1f} s (wall "
          f"{time.monotonic() - t0:.1f} s), outage {result['outage_s']}")  # fmt: skip
    # The box answers at the new address on 2222, with the key trusted for [OLD]:2222.
    cp = _run(netns(netplan_lab.topology.laptop_ns, [
        "ssh", "-F", str(good), "-o", f"HostName={NEW}", "-o", f"HostKeyAlias=[{OLD}]:{ALT_PORT}",
        "-o", "BatchMode=yes", "pibox", "ip -4 -o addr show bond0"]), timeout=60)  # fmt: skip
    assert cp.returncode == 0 and f"{NEW}/24" in cp.stdout, cp.stdout + cp.stderr


class _Impostor:
    """sshd with its own fresh host key at NEW, in a namespace on the lab's LAN bridge."""

    def __init__(self, lab: Lab, box: Box, tmp_path: Path) -> None:
        self.lab, self.dir = lab, tmp_path / "impostor"
        self.ns = f"{lab.topology.run_name}-imp"  # lab cleanup() removes it if we crash
        self.veth = "imp0"
        self.log = self.dir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.mac = ""
        self.dir.mkdir()
        self.key = self.dir / "host_key"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "impostor", "-f",
              str(self.key)], timeout=30).check_returncode()  # fmt: skip
        auth = self.dir / "authorized_keys"
        auth.write_text(Path(f"{box.image.key}.pub").read_text())
        self.config = self.dir / "sshd_config"
        self.config.write_text(
            f"Port 22\nListenAddress {NEW}\nPidFile none\nUsePAM no\nPermitRootLogin yes\n"
            f"PubkeyAuthentication yes\nAuthorizedKeysFile {auth}\nStrictModes no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n"
            "LogLevel VERBOSE\n"
        )

    def start(self) -> None:
        lan, ns = self.lab.topology.lan_ns, self.ns
        peer = ["peer", "name", "eth0", "netns", ns]
        for argv in (
            ["ip", "netns", "add", ns],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", lan, "link", "add", self.veth, "type", "veth", *peer],
            ["ip", "-n", lan, "link", "set", self.veth, "master", "br0", "up"],
            ["ip", "-n", ns, "addr", "add", f"{NEW}/24", "dev", "eth0"],
            ["ip", "-n", ns, "link", "set", "eth0", "up"],
        ):
            _run(argv, timeout=30).check_returncode()
        link = json.loads(_run(["ip", "-n", ns, "-j", "link", "show", "eth0"]).stdout)
        self.mac = link[0]["address"]
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        test = _run(netns(ns, [SSHD, "-t", "-f", str(self.config), "-h", str(self.key)]))
        assert test.returncode == 0, test.stderr
        with self.log.open("wb") as fh:
            self.proc = subprocess.Popen(
                netns(ns, [SSHD, "-D", "-e", "-f", str(self.config), "-h", str(self.key)]),
                stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            )  # fmt: skip
        for _ in range(100):
            if "Server listening on" in self.log.read_text(errors="replace"):
                break
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            time.sleep(0.1)
        else:
            raise AssertionError("the impostor's sshd did not start: " + self.log.read_text())
        # The real box takes NEW too (no DAD): the laptop talks to the impostor, always.
        pin = ["neigh", "replace", NEW, "lladdr", self.mac, "dev", "eth0", "nud", "permanent"]
        _run(["ip", "-n", self.lab.topology.laptop_ns, *pin], timeout=30).check_returncode()

    def stop(self) -> None:
        _run(["ip", "-n", self.lab.topology.laptop_ns, "neigh", "del", NEW, "dev", "eth0"],
             timeout=30)  # fmt: skip
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        remove_namespace(self.ns)  # kills the sshd's children too
        _run(["ip", "-n", self.lab.topology.lan_ns, "link", "del", self.veth], timeout=30)

    def said(self) -> str:
        return self.log.read_text(errors="replace")


def test_impostor_at_the_new_address_gets_no_confirmation(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path
) -> None:
    if not Path(SSHD).exists():
        pytest.fail(f"{SSHD} is missing: run scripts/install-deps (openssh-server)")
    before = profiles(netplan_box)
    impostor = _Impostor(netplan_lab, netplan_box, tmp_path)
    try:
        impostor.start()
        # The laptop sees the impostor's key at NEW, not the box's.
        keyscan = ["ssh-keyscan", "-T", "5", "-t", "ed25519", NEW]
        scan = _run(netns(netplan_lab.topology.laptop_ns, keyscan), timeout=30)
        impostor_pub = Path(f"{impostor.key}.pub").read_text().split()[1]
        assert impostor_pub in scan.stdout, scan.stdout + scan.stderr

        t0 = time.monotonic()
        argv = _laptop_argv(netplan_lab, netplan_box, "apply", str(_config(tmp_path)), "--host",
                            f"root@{OLD}", "--yes", "--json", *FAST)  # fmt: skip
        cp = _run(argv)
        out = cp.stdout[-3000:] + cp.stderr[-3000:]
        assert cp.returncode == 1, out
        result = _summary(cp.stdout)
        assert result["outcome"] == "rolled-back", result
        assert "different host key" in result["reason"], result
        events = _events(cp.stdout)
        assert "impostor" in [e.get("event") for e in events], out
        print(f"impostor: rolled back in {result['seconds']:.1f} s (wall "
              f"{time.monotonic() - t0:.1f} s): {result['reason']}")  # fmt: skip

        wait_ssh(netplan_box, OLD, 60)
        assert profiles(netplan_box) == before
        said = impostor.said()
        assert f"Connection from {LAPTOP}" in said, said[-2000:]
        assert "Accepted" not in said, said[-2000:]
    finally:
        impostor.stop()


def test_undo_from_the_laptop_follows_the_box_back(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path
) -> None:
    box = netplan_box
    before, files = profiles(box), _netplan_files(box, OLD)
    cp = _run(_laptop_argv(netplan_lab, box, "apply", str(_config(tmp_path)), "--host",
                           f"root@{OLD}", "--yes", "--json", *FAST))  # fmt: skip
    assert cp.returncode == 0, _why(box, cp)
    result = _summary(cp.stdout)
    assert result["outcome"] == "committed" and result["new_address"] == NEW, result
    print(f"seed journey: {result['seconds']:.1f} s")

    t0 = time.monotonic()
    cp = _run(_laptop_argv(netplan_lab, box, "undo", "--host", f"root@{NEW}", "--json", *FAST))
    assert cp.returncode == 0, _why(box, cp)
    undo: dict[str, Any] = _summary(cp.stdout)
    assert undo["outcome"] == "committed" and undo["new_address"] == OLD, undo
    print(f"undo journey: {undo['seconds']:.1f} s (wall {time.monotonic() - t0:.1f} s), "
          f"outage {undo['outage_s']}")  # fmt: skip
    wait_ssh(box, OLD, 60)
    assert _netplan_files(box, OLD) == files
    assert profiles(box) == before
