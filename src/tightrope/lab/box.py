"""One running box: its QEMU, reached over SSH from the laptop namespace, driven through QMP."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tightrope.errors import LabError
from tightrope.lab.image import Image
from tightrope.lab.net import BoxSpec
from tightrope.lab.proc import kill_and_wait, netns, run, start_daemon
from tightrope.lab.qemu import BoxFiles, qemu_argv, tap_names
from tightrope.lab.qmp import QMP

BOOT_TIMEOUT = 240.0

# Runs on the box: answers each line with the guest's clock; "set OFFSET" first steps the
# clock back by OFFSET. The sample with the shortest round trip is the one to trust.
_CLOCK_AGENT = """import sys, time
for line in sys.stdin:
    cmd = line.split()
    if cmd[:1] == ["set"]:
        time.clock_settime(time.CLOCK_REALTIME, time.time() - float(cmd[1]))
    print(repr(time.time()), flush=True)
"""  # TCG boots take 30-45 s on 2 cores; leave room for a loaded CI machine


class Box:
    def __init__(
        self,
        spec: BoxSpec,
        image: Image,
        files: BoxFiles,
        *,
        run_name: str,
        lan_ns: str,
        laptop_ns: str,
        known_hosts: Path,
        accel: str,
    ) -> None:
        self.spec = spec
        self.image = image
        self.files = files
        self.run_name = run_name
        self.lan_ns = lan_ns
        self.laptop_ns = laptop_ns
        self.known_hosts = known_hosts
        self.accel = accel
        self.qmp = QMP(files.qmp)
        self.host = spec.eth0_ip  # where ssh() goes unless told otherwise
        self.started_at = 0.0  # time.monotonic() when QEMU was last started

    @property
    def name(self) -> str:
        return self.spec.name

    # --- QEMU process ------------------------------------------------------------------

    def start(self) -> None:
        """Start QEMU in the background (in the LAN namespace, where its taps are)."""
        if not self.files.overlay.exists():
            self.files.disk_dir.mkdir(parents=True, exist_ok=True)
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                 "-b", str(self.image.disk), str(self.files.overlay)])  # fmt: skip
        self.files.pidfile.unlink(missing_ok=True)
        argv = qemu_argv(self.spec, self.image, self.files, self.accel, self.run_name)
        self.started_at = time.monotonic()
        start_daemon(netns(self.lan_ns, argv), self.files.run_dir / f"{self.name}-qemu.log")
        self.qmp.wait_ready(time.monotonic() + 30)

    @property
    def pid(self) -> int | None:
        try:
            return int(self.files.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid
        return pid is not None and Path(f"/proc/{pid}").exists()

    def stop(self) -> None:
        """Pull the plug on QEMU (QMP quit), killing it if QMP does not answer."""
        pid = self.pid
        self.drop_ssh()
        with contextlib.suppress(LabError):
            self.qmp.execute("quit")
        deadline = time.monotonic() + 10
        while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and Path(f"/proc/{pid}").exists():
            kill_and_wait([pid])

    # --- SSH ---------------------------------------------------------------------------

    def ssh_argv(self, host: str | None = None, *, tty: bool = False) -> list[str]:
        """ssh from the laptop namespace with the lab key; the host key is checked against the
        image's own key (for any lab address), so a wrong box is an error, not a prompt."""
        opts = {
            "IdentitiesOnly": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "StrictHostKeyChecking": "yes",
            "BatchMode": "yes",
            "ConnectTimeout": "5",
            "ServerAliveInterval": "2",
            "ServerAliveCountMax": "3",
            "LogLevel": "ERROR",
            # The harness's calls share one connection per address: a new login costs the
            # emulated box 2.3 s (sshd's re-exec, the key exchange, the PAM session), a call
            # over a shared one 0.2 s. Dropped wherever the box's state jumps (drop_ssh).
            "ControlMaster": "auto",
            "ControlPath": str(self.files.run_dir / "ssh-%C"),
            "ControlPersist": "60",
        }
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.image.key), "-t" if tty else "-T"]
        for k, v in opts.items():
            argv += ["-o", f"{k}={v}"]
        return netns(self.laptop_ns, [*argv, f"root@{host or self.host}"])

    def ssh(
        self,
        cmd: str | Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 60.0,
        host: str | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run cmd on the box as root. A string goes to the remote shell as is; a list is
        quoted. Exit status 255 means SSH itself failed (box unreachable)."""
        line = cmd if isinstance(cmd, str) else shlex.join(cmd)
        return run([*self.ssh_argv(host), line], input=input, timeout=timeout, check=check)

    def drop_ssh(self) -> None:
        """End the shared SSH connections (ssh_argv): after a loadvm, a power cut or a reset
        the box knows none of them, and a call over one would wait for its keepalive to
        fail."""
        for sock in self.files.run_dir.glob("ssh-*"):
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(["ssh", "-F", "/dev/null", "-S", str(sock), "-O", "exit", "box"],
                               capture_output=True, timeout=5, check=False)  # fmt: skip
            sock.unlink(missing_ok=True)

    def put(self, local: Path, remote: str, *, host: str | None = None) -> None:
        # Legacy scp protocol (-O): the image has no sftp-server.
        ssh = self.ssh_argv(host)
        opts = ssh[ssh.index("ssh") + 1 : -1]
        opts = [o for o in opts if o not in ("-T", "-t")]
        scp = ["scp", "-O", "-q", *opts, str(local), f"root@{host or self.host}:{remote}"]
        run(netns(self.laptop_ns, scp), timeout=120)

    def wait_ssh(self, timeout: float = BOOT_TIMEOUT, host: str | None = None) -> float:
        """Wait until the box answers SSH; return how long that took."""
        t0 = time.monotonic()
        while True:
            if self.ssh("true", timeout=15, host=host).returncode == 0:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise LabError(
                    f"{self.name} did not answer SSH at {host or self.host} within {timeout:.0f} s",
                    hint=f"See the console log {self.files.console}",
                )
            if not self.running():
                raise LabError(f"{self.name}'s QEMU exited; see {self.files.console}")
            time.sleep(1)

    def boot_id(self, host: str | None = None) -> str:
        return self.ssh("cat /proc/sys/kernel/random/boot_id", host=host, check=True).stdout.strip()

    def wait_settled(self, timeout: float = BOOT_TIMEOUT) -> float:
        """SSH answers, NetworkManager has eth0 and wlan0 connected and wlan0 is associated.
        The start state's own addresses are checked by the caller, not here."""
        t0 = time.monotonic()
        self.wait_ssh(timeout)
        script = (
            "nmcli -t -f DEVICE,STATE device | grep -qx eth0:connected && "
            "nmcli -t -f DEVICE,STATE device | grep -qx wlan0:connected && "
            "iw dev wlan0 link | grep -q '^Connected to'"
        )
        while self.ssh(script, timeout=20).returncode != 0:
            if time.monotonic() - t0 > timeout:
                state = self.ssh("nmcli device; iw dev wlan0 link", timeout=20).stdout
                raise LabError(f"{self.name} did not settle within {timeout:.0f} s:\n{state}")
            time.sleep(1)
        return time.monotonic() - t0

    # --- Controls ----------------------------------------------------------------------

    def set_cable(self, plugged: bool) -> None:
        self.qmp.execute("set_link", {"name": "eth0", "up": plugged})

    def pull_cable(self) -> None:
        self.set_cable(False)

    def set_path(self, alive: bool) -> None:
        """The dead path (issue 15): the cable stays plugged and its link up, but its far end
        leaves the LAN (the box's tap taken off the bridge), as when the switch between the
        box and the router loses its uplink. MII monitoring sees nothing; ARP does."""
        tap, _ = tap_names(self.spec)
        # Off the bridge, the tap is an interface of the LAN namespace, which holds the
        # gateway's address: Linux would answer the box's ARP for it there (arp_ignore 0),
        # and the box's ARP monitor would see a live path. 8: answer no ARP on it at all.
        ignore = "0" if alive else "8"
        run(netns(self.lan_ns, ["sysctl", "-q", "-w", f"net.ipv4.conf.{tap}.arp_ignore={ignore}"]))
        where = ["master", "br0"] if alive else ["nomaster"]
        run(["ip", "-n", self.lan_ns, "link", "set", tap, *where])

    def plug_cable(self) -> None:
        self.set_cable(True)

    def reboot(self, timeout: float = BOOT_TIMEOUT, host: str | None = None) -> float:
        """A clean reboot from inside (systemctl reboot); returns seconds until SSH answers
        again on a new boot."""
        before = self.boot_id(host)
        t0 = time.monotonic()
        self.ssh("systemctl reboot", timeout=15, host=host)
        while True:
            cp = self.ssh("cat /proc/sys/kernel/random/boot_id", timeout=15, host=host)
            if cp.returncode == 0 and cp.stdout.strip() not in ("", before):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise LabError(f"{self.name} did not come back from a reboot in {timeout:.0f} s")
            time.sleep(1)

    def power_cut(self, off_seconds: float = 0.0) -> None:
        """Cut the power (QEMU quits: unsynced writes are lost, as on a real box) and power
        it on again. Does not wait for the boot; call wait_ssh()."""
        self.stop()
        time.sleep(off_seconds)
        self.start()

    def hard_reset(self) -> None:
        self.drop_ssh()
        self.qmp.execute("system_reset")

    def snapshot(self, name: str) -> float:
        """Save the whole machine (RAM, devices, disk) inside the overlay; returns seconds."""
        self.drop_ssh()  # no harness session inside the snapshot
        t0 = time.monotonic()
        self.qmp.hmp(f"savevm {name}")
        return time.monotonic() - t0

    def restore(self, name: str, *, wait: bool = True) -> float:
        """Return the machine to snapshot name, replug its cable, set its clock; returns
        seconds until SSH answered (or until loadvm finished when wait is False)."""
        t0 = time.monotonic()
        self.drop_ssh()
        self.qmp.hmp(f"loadvm {name}")
        # The cable is QEMU's state, not the guest's: a test may have left it pulled.
        self.plug_cable()
        # The host side's neighbour tables are left alone on purpose: flushing them makes the
        # gateway re-learn .51 by broadcast, and Linux answers ARP for any of its addresses
        # on any port, so it could learn eth0's MAC for wlan0's address (ARP flux).
        if wait:
            self.wait_ssh(60)
            # The guest clock resumes from the snapshot's time.
            self.sync_clock()
        return time.monotonic() - t0

    def sync_clock(self, *, adjust: bool = True) -> float:
        """Measure the guest clock's offset from the host's (seconds, + = guest ahead) and,
        with adjust, remove it; returns the offset left. Measured inside one SSH session, so
        the seconds SSH takes to connect on a busy host do not count."""
        proc = subprocess.Popen(
            [*self.ssh_argv(), "python3 -u -c " + shlex.quote(_CLOCK_AGENT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def sample(line: str) -> tuple[float, float]:
            t1 = time.time()
            stdin.write(line + "\n")
            stdin.flush()
            reply = stdout.readline()
            t2 = time.time()
            if not reply:
                raise LabError(f"{self.name}: no answer from the clock agent over SSH")
            return t2 - t1, float(reply) - (t1 + t2) / 2

        try:
            _, offset = min(sample("get") for _ in range(4))
            if adjust and abs(offset) > 0.02:
                sample(f"set {offset!r}")
                _, offset = min(sample("get") for _ in range(4))
            return offset
        finally:
            stdin.close()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
