"""The run's network: two namespaces on the host, nothing in the host's own namespace.

    <run>-lan     bridge br0 with the gateway 198.18.1.1/24, dnsmasq (DHCP + DNS, no
                  upstream), one tap per box NIC; QEMU runs here so it can open the taps.
    <run>-laptop  the admin's laptop 198.18.1.10/24 on a veth to br0, default route via .1.

Neither namespace has a link to the outside, so no lab packet can leave them.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from tightrope.lab.net import (
    DHCP_FIRST,
    DHCP_LAST,
    GATEWAY,
    LAN_PREFIX,
    LAPTOP,
    BoxSpec,
)
from tightrope.lab.proc import kill_and_wait, netns, run, start_daemon
from tightrope.lab.qemu import tap_names

NAME_PREFIX = "trl-"


@dataclass(frozen=True)
class Topology:
    run_name: str
    run_dir: Path

    @property
    def lan_ns(self) -> str:
        return f"{self.run_name}-lan"

    @property
    def laptop_ns(self) -> str:
        return f"{self.run_name}-laptop"

    @property
    def dhcp_hosts(self) -> Path:
        return self.run_dir / "dhcp-hosts"

    @property
    def dnsmasq_pid(self) -> Path:
        return self.run_dir / "dnsmasq.pid"

    def create(self) -> None:
        lan, lap = self.lan_ns, self.laptop_ns
        run(["ip", "netns", "add", lan])
        run(["ip", "netns", "add", lap])
        for ns in (lan, lap):
            # IPv4 only: keeps the lab's traffic to the addresses the tests reason about.
            run(netns(ns, ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                           "net.ipv6.conf.default.disable_ipv6=1"]))  # fmt: skip
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", lan, "link", "add", "br0", "type", "bridge",
             "forward_delay", "0", "stp_state", "0"])  # fmt: skip
        run(["ip", "-n", lan, "addr", "add", f"{GATEWAY}/{LAN_PREFIX}", "dev", "br0"])
        run(["ip", "-n", lan, "link", "set", "br0", "up"])
        run(["ip", "-n", lan, "link", "add", "laptop0", "type", "veth",
             "peer", "name", "eth0", "netns", lap])  # fmt: skip
        run(["ip", "-n", lan, "link", "set", "laptop0", "master", "br0", "up"])
        run(["ip", "-n", lap, "addr", "add", f"{LAPTOP}/{LAN_PREFIX}", "dev", "eth0"])
        run(["ip", "-n", lap, "link", "set", "eth0", "up"])
        run(["ip", "-n", lap, "route", "add", "default", "via", GATEWAY])
        self.dhcp_hosts.touch()
        self._start_dnsmasq()

    def _start_dnsmasq(self) -> None:
        d = self.run_dir
        start_daemon(netns(self.lan_ns, [
            "dnsmasq", "--conf-file=/dev/null", "--user=root", "--group=root",
            "--interface=br0", "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll",
            f"--listen-address={GATEWAY}",
            f"--dhcp-range={DHCP_FIRST},{DHCP_LAST},255.255.255.0,12h",
            f"--dhcp-option=option:router,{GATEWAY}", f"--dhcp-option=option:dns-server,{GATEWAY}",
            "--dhcp-authoritative", "--log-dhcp", f"--log-facility={d / 'dnsmasq.log'}",
            f"--dhcp-hostsfile={self.dhcp_hosts}", f"--dhcp-leasefile={d / 'dnsmasq.leases'}",
            f"--pid-file={self.dnsmasq_pid}",
        ]), d / "dnsmasq.out")  # fmt: skip

    def add_box(self, spec: BoxSpec) -> None:
        """Taps for the box's two NICs, and DHCP reservations at the box's fixed addresses so
        a DHCP start state lands where a static one would."""
        for tap in tap_names(spec):
            run(["ip", "-n", self.lan_ns, "tuntap", "add", "dev", tap, "mode", "tap"])
            run(["ip", "-n", self.lan_ns, "link", "set", tap, "master", "br0", "up"])
        with self.dhcp_hosts.open("a") as fh:
            fh.write(f"{spec.eth0_mac},{spec.eth0_ip}\n{spec.wlan0_mac},{spec.wlan0_ip}\n")
        pid = _read_pid(self.dnsmasq_pid)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGHUP)

    def destroy(self) -> None:
        for ns in (self.lan_ns, self.laptop_ns):
            remove_namespace(ns)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def namespace_pids(ns: str) -> list[int]:
    cp = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in cp.stdout.split() if p.isdigit()]


def remove_namespace(ns: str) -> None:
    """Kill whatever still runs in ns (QEMU, dnsmasq, pings) and delete it."""
    if ns not in list_namespaces():
        return
    kill_and_wait(namespace_pids(ns))
    run(["ip", "netns", "del", ns], check=False)


def list_namespaces(prefix: str = "") -> list[str]:
    cp = run(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in cp.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(prefix)]
