"""The real box: NetworkManager over D-Bus (tightrope.nm) and a few system tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tightrope import nm
from tightrope.core.snapshot import Snapshot
from tightrope.nm import writer
from tightrope.nm.errors import NMError
from tightrope.nm.events import DeviceEventStream
from tightrope.txn import arpsock
from tightrope.txn.atomic import write_atomic
from tightrope.txn.backend import DependencyNotReady, Settings

# Where netplan reads YAML (0.106: /lib, /etc, /run; later releases also /usr/lib).
NETPLAN_DIRS = ("/lib/netplan", "/usr/lib/netplan", "/etc/netplan", "/run/netplan")
# netplan's generator itself, which `netplan generate` only wraps (netplan/cli/commands/
# generate.py runs it with the same --root-dir) and systemd runs at boot: called directly it
# saves the CLI's Python start, measured at about 2 s per call on the lab box under TCG, and
# a commit calls it twice. 0.106 keeps it in /lib, later releases in /usr/libexec.
GENERATORS = ("/usr/libexec/netplan/generate", "/lib/netplan/generate",
              "/usr/lib/netplan/generate")  # fmt: skip


class NMBackend:
    def __init__(self, bus_address: str | None = None) -> None:
        self.bus = bus_address

    def snapshot(self, *, include_secrets: bool = False) -> Snapshot:
        return nm.read_snapshot(include_secrets=include_secrets, bus_address=self.bus)

    def checkpoint_create(self, devices: Sequence[str], timeout_s: int) -> str:
        return writer.checkpoint_create(devices, timeout_s, bus_address=self.bus)

    def checkpoint_adjust(self, checkpoint: str, timeout_s: int) -> None:
        writer.checkpoint_adjust(checkpoint, timeout_s, bus_address=self.bus)

    def checkpoint_rollback(self, checkpoint: str) -> None:
        writer.checkpoint_rollback(checkpoint, bus_address=self.bus)

    def checkpoint_destroy(self, checkpoint: str) -> None:
        writer.checkpoint_destroy(checkpoint, bus_address=self.bus)

    def checkpoint_exists(self, checkpoint: str) -> bool:
        return checkpoint in writer.checkpoint_paths(bus_address=self.bus)

    def add_profile(
        self, settings: Settings, *, to_disk: bool, block_autoconnect: bool = False
    ) -> str:
        return writer.add_connection(settings, to_disk=to_disk,
                                     block_autoconnect=block_autoconnect, bus_address=self.bus)

    def update_profile(
        self,
        uuid: str,
        settings: Settings | None,
        *,
        to_disk: bool,
        block_autoconnect: bool = False,
    ) -> None:
        writer.update_connection(uuid, settings, to_disk=to_disk,
                                 block_autoconnect=block_autoconnect, bus_address=self.bus)

    def delete_profile(self, uuid: str) -> None:
        writer.delete_connection(uuid, bus_address=self.bus)

    def delete_profiles(self, uuids: Sequence[str]) -> None:
        writer.delete_connections(uuids, bus_address=self.bus)

    def delete_device(self, interface: str) -> None:
        writer.delete_device(interface, bus_address=self.bus)

    def activate(self, uuid: str, device: str | None = None) -> None:
        try:
            writer.activate(uuid, device, bus_address=self.bus)
        except NMError as exc:
            if exc.name.endswith(".DependencyFailed"):
                raise DependencyNotReady(str(exc), exc.name) from None
            raise

    def deactivate(self, uuid: str) -> None:
        writer.deactivate(uuid, bus_address=self.bus)

    def reload_profiles(self) -> None:
        writer.reload_connections(bus_address=self.bus)

    def device_events(self, interfaces: Sequence[str]) -> DeviceEventStream:
        return DeviceEventStream(interfaces, bus_address=self.bus)


class HostSystem:
    def __init__(self, root: str = "/", generators: Sequence[str] = GENERATORS) -> None:
        self.root = Path(root)
        self.generators = generators

    def _generate_argv(self) -> list[str] | None:
        """How to run netplan's generator (None: netplan is not installed)."""
        for path in self.generators:
            if os.access(path, os.X_OK):
                return [path]
        exe = shutil.which("netplan")
        return [exe, "generate"] if exe else None

    def _p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def read_bytes(self, path: str) -> bytes | None:
        try:
            return self._p(path).read_bytes()
        except OSError:
            return None

    def write_bytes(self, path: str, data: bytes, mode: int = 0o600) -> None:
        write_atomic(self._p(path), data, mode)

    def remove(self, path: str) -> None:
        self._p(path).unlink(missing_ok=True)

    def sync(self) -> None:
        # The keyfiles are NetworkManager's to write, so they cannot be fsynced one by one
        # from here; sync(2) flushes them with everything else (a second or so on a Pi).
        os.sync()

    def ping(self, address: str, interface: str | None = None, count: int = 1) -> bool:
        argv = ["ping", "-n", "-q", "-c", str(count), "-W", "1"]
        if interface:
            argv += ["-I", interface]
        try:
            return (
                subprocess.run(
                    [*argv, address], capture_output=True, timeout=count + 5, check=False
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            return False

    def arp_probe(self, address: str, interface: str) -> bool | None:
        return arpsock.gateway_answers(address, interface)

    def address_taken(self, address: str, interface: str) -> bool | None:
        return arpsock.address_taken(address, interface)

    def netplan_generate(self) -> bool:
        argv = self._generate_argv()
        if argv is None:
            return False
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
        return True

    def netplan_check(self, files: Mapping[str, bytes], bond: str) -> str | None:
        generate = self._generate_argv()
        if generate is None:
            return "netplan is not installed, so nothing would render the YAML at boot"
        with tempfile.TemporaryDirectory(prefix="tightrope-netplan-") as scratch:
            top = Path(scratch)
            for where in NETPLAN_DIRS:
                src = self._p(where)
                if src.is_dir():
                    dst = top / where.lstrip("/")
                    dst.mkdir(parents=True, exist_ok=True)
                    for f in src.glob("*.yaml"):
                        shutil.copyfile(f, dst / f.name)
            for path, data in files.items():
                dst = top / path.lstrip("/")
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(data)
            for f in top.rglob("*.yaml"):
                f.chmod(0o600)  # netplan warns about (and some versions refuse) wider modes
            try:
                cp = subprocess.run([*generate, "--root-dir", scratch], capture_output=True,
                                    text=True, timeout=60, check=False)  # fmt: skip
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"netplan generate could not run: {exc}"
            said = (cp.stderr or cp.stdout).replace(scratch, "").strip()
            if cp.returncode != 0:
                return said or f"netplan generate exited with {cp.returncode}"
            rendered = top / "run/NetworkManager/system-connections"
            if not (rendered / f"netplan-{bond}.nmconnection").is_file():
                return f"netplan rendered no NetworkManager profile for {bond}"
        return None

    def boot_id(self) -> str:
        data = self.read_bytes("/proc/sys/kernel/random/boot_id")
        return data.decode().strip() if data else "unknown"
