"""The lab's disk image: Debian bookworm from Debian packages only, built once per recipe.

The cache key is a hash of the package list, the suite, the recipe module and every asset,
so the image is rebuilt only when one of them changes. A cached image is a directory:

    base.qcow2  vmlinuz  initrd.img  lab_key  lab_key.pub  host_key.pub  build.json
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import inspect
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tightrope.errors import LabError
from tightrope.lab import recipe
from tightrope.lab.proc import run

SUITE = "bookworm"
MIRROR = os.environ.get("TIGHTROPE_LAB_MIRROR", "http://deb.debian.org/debian")
PACKAGES: tuple[str, ...] = (
    "systemd-sysv", "udev", "dbus", "kmod", "linux-image-amd64", "initramfs-tools",
    "network-manager", "netplan.io", "hostapd", "openssh-server", "iw", "wireless-regdb",
    "iproute2", "iputils-ping", "python3", "procps", "wpasupplicant",
    "dnsmasq-base",
)  # fmt: skip
DISK_SIZE = "3G"


@dataclass(frozen=True)
class Image:
    """A built image in the cache; everything a box needs to boot and be reached."""

    dir: Path

    @property
    def disk(self) -> Path:
        return self.dir / "base.qcow2"

    @property
    def kernel(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.dir / "initrd.img"

    @property
    def key(self) -> Path:
        """Private half of the lab key; its public half is root's authorized key on the box."""
        return self.dir / "lab_key"

    @property
    def host_key(self) -> str:
        """The box's SSH host key (every box from this image shares it)."""
        return (self.dir / "host_key.pub").read_text().strip()

    @property
    def info(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.dir / "build.json").read_text())
        return data

    def complete(self) -> bool:
        return (self.dir / "build.json").exists()


def cache_root() -> Path:
    if env := os.environ.get("TIGHTROPE_LAB_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "tightrope" / "lab"


def recipe_digest() -> str:
    h = hashlib.sha256()
    h.update(f"{SUITE}\n{MIRROR}\n{DISK_SIZE}\n".encode())
    h.update("\n".join(PACKAGES).encode())
    h.update(inspect.getsource(recipe).encode())
    for name in recipe.asset_names():
        h.update(f"\0{name}\0".encode())
        h.update(recipe.asset(name).encode())
    return h.hexdigest()[:16]


def cached() -> Image | None:
    """The image for the current recipe if it is already built, else None."""
    img = Image(cache_root() / recipe_digest())
    return img if img.complete() else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per recipe at a time: a second test run waits instead of building twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log(msg: str) -> None:
    print(f"[lab image] {msg}", file=sys.stderr, flush=True)


def ensure(*, log: bool = True) -> Image:
    """Return the cached image, building it first if the recipe changed (about 2-3 minutes)."""
    digest = recipe_digest()
    root = cache_root()
    img = Image(root / digest)
    if img.complete():
        return img
    with _locked(root / f".{digest}.lock"):
        if img.complete():
            return img
        _require_root()
        work = root / f".build-{digest}-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            _build(work, digest, log)
            shutil.rmtree(img.dir, ignore_errors=True)
            work.rename(img.dir)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return img


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("building the lab image needs root (mmdebstrap, mkfs.ext4 -d ownership)")


def _build(work: Path, digest: str, log: bool) -> None:
    say = _log if log else (lambda _m: None)
    t0 = time.monotonic()
    tree = work / "tree"
    say(f"mmdebstrap {SUITE} ({len(PACKAGES)} packages) into {tree}")
    run(
        [
            "mmdebstrap", "--variant=minbase", "--mode=root", "--include=" + ",".join(PACKAGES),
            SUITE, str(tree), MIRROR,
        ],
        timeout=1800,
    )  # fmt: skip
    t_strap = time.monotonic() - t0

    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tightrope-lab",
         "-f", str(work / "lab_key")])  # fmt: skip
    recipe.customise(tree, (work / "lab_key.pub").read_text())
    shutil.copy(tree / "etc/ssh/ssh_host_ed25519_key.pub", work / "host_key.pub")
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise LabError("the image has no kernel in /boot (linux-image-amd64 missing?)")
    version = kernels[-1].name.removeprefix("vmlinuz-")
    shutil.copy(kernels[-1], work / "vmlinuz")
    shutil.copy(tree / "boot" / f"initrd.img-{version}", work / "initrd.img")

    say(f"mkfs.ext4 -d ({DISK_SIZE}) and qcow2")
    raw = work / "disk.raw"
    run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(tree), str(raw), DISK_SIZE], timeout=900)
    shutil.rmtree(tree)
    run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(work / "base.qcow2")], timeout=900)
    raw.unlink()

    seconds = time.monotonic() - t0
    info = {
        "digest": digest,
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": list(PACKAGES),
        "kernel": version,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mmdebstrap_seconds": round(t_strap, 1),
        "build_seconds": round(seconds, 1),
    }
    (work / "build.json").write_text(json.dumps(info, indent=2) + "\n")
    say(f"built in {seconds:.0f} s (mmdebstrap {t_strap:.0f} s)")
