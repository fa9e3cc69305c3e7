"""QEMU for one box: choosing the accelerator and building the command line."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tightrope.lab.image import Image
from tightrope.lab.net import BoxSpec

MEMORY_MB = 1024
CPUS = 2
KVM_PROBE_SECONDS = 8.0


def _cpu_has_virt() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " vmx" in flags or " svm" in flags


@functools.lru_cache(maxsize=1)
def choose_accel(kernel: Path) -> str:
    """"kvm" if a KVM guest really runs here, else "tcg".

    An existing /dev/kvm is not enough: on some hosts a KVM guest hangs without a word. The
    probe boots the lab kernel without a root disk under KVM for a few seconds and accepts
    KVM only if the kernel printed its banner. TIGHTROPE_LAB_ACCEL=kvm|tcg skips the probe.
    """
    forced = os.environ.get("TIGHTROPE_LAB_ACCEL", "").strip().lower()
    if forced in ("kvm", "tcg"):
        return forced
    if not (os.access("/dev/kvm", os.R_OK | os.W_OK) and _cpu_has_virt()):
        return "tcg"
    with tempfile.TemporaryDirectory(prefix="trl-kvm-probe-") as tmp:
        console = Path(tmp) / "console.log"
        argv = [
            "qemu-system-x86_64", "-accel", "kvm", "-nodefaults", "-no-user-config",
            "-display", "none", "-m", "256", "-kernel", str(kernel),
            "-append", "console=ttyS0 panic=-1", "-no-reboot", "-serial", f"file:{console}",
        ]  # fmt: skip
        # subprocess.run kills the probe when the timeout expires: a hung KVM guest is the
        # very case this guards against.
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(argv, capture_output=True, timeout=KVM_PROBE_SECONDS, check=False)
        try:
            booted = "Linux version" in console.read_text(errors="replace")
        except OSError:
            booted = False
    return "kvm" if booted else "tcg"


@dataclass(frozen=True)
class BoxFiles:
    """Where one box's QEMU keeps its state on the host."""

    run_dir: Path
    disk_dir: Path
    name: str

    @property
    def overlay(self) -> Path:
        return self.disk_dir / f"{self.name}.qcow2"

    @property
    def qmp(self) -> Path:
        return self.run_dir / f"{self.name}.qmp"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def console(self) -> Path:
        return self.run_dir / f"{self.name}-console.log"


def tap_names(spec: BoxSpec) -> tuple[str, str]:
    """Tap devices on the LAN bridge: the box's cable (eth0) and its AP's uplink (eth1)."""
    return f"{spec.name}-eth0", f"{spec.name}-ap"


def qemu_argv(spec: BoxSpec, image: Image, files: BoxFiles, accel: str, run: str) -> list[str]:
    """The full QEMU command line. No user networking: -nodefaults keeps QEMU from adding a
    NIC of its own, and both NICs are taps on the run's LAN bridge."""
    tap_eth0, tap_ap = tap_names(spec)
    append = " ".join(
        ["root=/dev/vda", "rw", "console=ttyS0", "net.ifnames=0", *spec.kernel_args()]
    )
    accel_arg = "kvm" if accel == "kvm" else "tcg,thread=multi"
    return [
        "qemu-system-x86_64",
        "-name", f"{run}-{spec.name}",
        "-nodefaults", "-no-user-config",
        "-accel", accel_arg, "-smp", str(CPUS), "-m", str(MEMORY_MB),
        "-kernel", str(image.kernel), "-initrd", str(image.initrd), "-append", append,
        "-drive", f"file={files.overlay},if=virtio,format=qcow2",
        "-object", "rng-random,filename=/dev/urandom,id=rng0",
        "-device", "virtio-rng-pci,rng=rng0",
        # The netdev ids are what set_link (the cable) addresses.
        "-netdev", f"tap,id=eth0,ifname={tap_eth0},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=eth0,mac={spec.eth0_mac},addr=0x5",
        "-netdev", f"tap,id=uplink,ifname={tap_ap},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=uplink,mac={spec.uplink_mac},addr=0x6",
        "-rtc", "base=utc",
        "-display", "none",
        "-serial", f"file:{files.console}",
        "-qmp", f"unix:{files.qmp},server=on,wait=off",
        "-pidfile", str(files.pidfile),
        "-daemonize",
    ]  # fmt: skip
