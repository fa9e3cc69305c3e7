"""A lab run: its namespaces, its boxes, its files, and the guarantee that it goes away.

A run is named (`trl-<name>`) so that several can exist at once. Its state lives in
/run/tightrope-lab/<run>/state.json so a later process (`tightrope lab ssh`) can attach to it,
and disks in /var/tmp/tightrope-lab/<run>/. An ephemeral run (tests, the Python API) is torn
down at interpreter exit and on SIGTERM; a persistent one (`tightrope lab up`) stays until
`tightrope lab down`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from tightrope.errors import LabError
from tightrope.lab import image as image_mod
from tightrope.lab.box import Box
from tightrope.lab.net import BoxSpec
from tightrope.lab.ping import PingResult, PingRun, wait_answer
from tightrope.lab.proc import netns, run
from tightrope.lab.qemu import BoxFiles, choose_accel
from tightrope.lab.safedir import make_dir
from tightrope.lab.topology import NAME_PREFIX, Topology, list_namespaces, remove_namespace

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,19}$")


def run_root() -> Path:
    return Path(os.environ.get("TIGHTROPE_LAB_RUN", "/run/tightrope-lab"))


def disk_root() -> Path:
    return Path(os.environ.get("TIGHTROPE_LAB_DISKS", "/var/tmp/tightrope-lab"))


def _log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


class Lab:
    """Namespaces + boxes. Use as a context manager, or call up() and down()."""

    def __init__(self, name: str = "lab", *, persist: bool = False, log: bool = True) -> None:
        if not _NAME.match(name):
            raise LabError(f"bad lab name {name!r}: use up to 20 of a-z, 0-9 and '-'")
        self.name = name
        self.run_name = NAME_PREFIX + name
        self.run_dir = run_root() / self.run_name
        self.disk_dir = disk_root() / self.run_name
        self.topology = Topology(self.run_name, self.run_dir)
        self.persist = persist
        self.boxes: list[Box] = []
        self.image: image_mod.Image | None = None
        self.accel = ""
        self.timings: dict[str, float] = {}
        self._say = _log if log else (lambda _m: None)

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def box(self) -> Box:
        if not self.boxes:
            raise LabError(f"lab {self.name} has no box", hint="Run `tightrope lab up` first.")
        return self.boxes[0]

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def known_hosts(self) -> Path:
        return self.run_dir / "known_hosts"

    def up(self, states: str | Sequence[str] = "netplan", *, settle: bool = True) -> Box:
        """Build (if needed) the image, create the network, boot one box per start state and
        wait until each has SSH and Wi-Fi. Returns the first box. On any failure (or Ctrl-C)
        everything created so far is removed again."""
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, taps)")
        if self.state_file.exists() or self.topology.lan_ns in list_namespaces():
            raise LabError(
                f"lab {self.name} already exists",
                hint=f"`tightrope lab down --name {self.name}` first (or pick another --name).",
            )
        states = [states] if isinstance(states, str) else list(states)
        if not self.persist:
            _register(self)
        try:
            t0 = time.monotonic()
            self.image = image_mod.ensure()
            self.timings["image_s"] = time.monotonic() - t0
            self.accel = choose_accel(self.image.kernel)
            self._say(f"accelerator: {self.accel}")
            make_dir(self.run_dir, run_root())
            make_dir(self.disk_dir, disk_root())
            self.known_hosts.write_text(f"198.18.* {self.image.host_key}\n")
            # state.json first: it names the owner, so a concurrent cleanup() sees a live lab.
            self._save()
            self.topology.create()
            for state in states:
                self.add_box(state, settle=False)
            if settle:
                for box in self.boxes:
                    self._settle(box)
            return self.box
        except BaseException:
            self.down()
            raise

    def add_box(self, state: str = "netplan", *, settle: bool = True) -> Box:
        """Boot one more box on the same LAN (box1 gets .60/.61, and so on)."""
        if self.image is None:
            raise LabError("add_box() needs a lab that is up")
        spec = BoxSpec(index=len(self.boxes), state=state)
        self.topology.add_box(spec)
        box = self._make_box(spec)
        self.boxes.append(box)
        self._save()
        box.start()
        self._say(f"{box.name} ({state}) booting under {self.accel}, console {box.files.console}")
        if settle:
            self._settle(box)
        return box

    def _settle(self, box: Box) -> None:
        box.wait_settled()
        self.timings[f"{box.name}_up_s"] = time.monotonic() - box.started_at

    def _make_box(self, spec: BoxSpec) -> Box:
        assert self.image is not None
        files = BoxFiles(self.run_dir, self.disk_dir, spec.name)
        return Box(
            spec, self.image, files, run_name=self.run_name, lan_ns=self.topology.lan_ns,
            laptop_ns=self.topology.laptop_ns, known_hosts=self.known_hosts, accel=self.accel,
        )  # fmt: skip

    def down(self) -> None:
        """Stop every box, remove the namespaces and the run's files. Safe to call twice."""
        for box in self.boxes:
            with contextlib.suppress(LabError):
                box.stop()
        self.topology.destroy()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.disk_dir, ignore_errors=True)
        _unregister(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()

    # --- persistence: a later process attaches to a running lab -------------------------

    def _save(self) -> None:
        data = {
            "name": self.name,
            "image": str(self.image.dir) if self.image else None,
            "accel": self.accel,
            "persist": self.persist,
            "owner_pid": os.getpid(),
            "boxes": [{"index": b.spec.index, "state": b.spec.state} for b in self.boxes],
        }
        self.state_file.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def attach(cls, name: str = "lab") -> Lab:
        lab = cls(name, persist=True)
        try:
            data: dict[str, Any] = json.loads(lab.state_file.read_text())
        except (OSError, ValueError) as exc:
            hint = "Start one: tightrope lab up"
            raise LabError(f"no lab named {name} is up", hint=hint) from exc
        lab.image = image_mod.Image(Path(data["image"]))
        lab.accel = str(data["accel"])
        for b in data["boxes"]:
            lab.boxes.append(lab._make_box(BoxSpec(index=b["index"], state=b["state"])))
        return lab

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespaces": {"lan": self.topology.lan_ns, "laptop": self.topology.laptop_ns},
            "accel": self.accel,
            "image": str(self.image.dir) if self.image else None,
            "boxes": [
                {
                    "name": b.name,
                    "state": b.spec.state,
                    "eth0": b.spec.eth0_ip,
                    "wlan0": b.spec.wlan0_ip,
                    "qemu_pid": b.pid,
                    "running": b.running(),
                    "console": str(b.files.console),
                }
                for b in self.boxes
            ],
        }

    # --- the laptop --------------------------------------------------------------------

    def laptop(
        self, argv: Sequence[str], *, input: str | None = None, timeout: float = 60.0,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run argv on the admin's laptop (the laptop namespace)."""
        return run(netns(self.topology.laptop_ns, argv), input=input, timeout=timeout, check=check)

    def start_ping(self, target: str, seconds: float, interval: float = 0.01) -> PingRun:
        return PingRun(self.topology.laptop_ns, target, seconds, interval)

    def ping(self, target: str, seconds: float, interval: float = 0.01) -> PingResult:
        """Ping target from the laptop every interval for seconds; per-probe results."""
        return self.start_ping(target, seconds, interval).result()

    def wait_ping(self, target: str, timeout: float = 120.0, *, answering: bool = True) -> float:
        """Seconds until target answers pings from the laptop (or stops, answering=False)."""
        return wait_answer(self.topology.laptop_ns, target, timeout, answering=answering)


# --- cleanup of ephemeral labs, whatever ends the process ---------------------------------

_live: list[Lab] = []
_handlers_installed = False


def _register(lab: Lab) -> None:
    global _handlers_installed
    _live.append(lab)
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_down_live)
    # SIGTERM's default kills without running atexit; turn it into an interrupt so finally
    # blocks, fixture finalizers and atexit all run. Only where nobody else claimed it.
    main = threading.current_thread() is threading.main_thread()
    if main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)


def _unregister(lab: Lab) -> None:
    if lab in _live:
        _live.remove(lab)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _down_live() -> None:
    for lab in list(_live):
        with contextlib.suppress(Exception):
            lab.down()


def _alive(pid: object) -> bool:
    return isinstance(pid, int) and Path(f"/proc/{pid}").exists()


def list_runs() -> list[str]:
    """Names of the labs that have a run directory."""
    root = run_root()
    if not root.is_dir():
        return []
    return sorted(p.name.removeprefix(NAME_PREFIX) for p in root.glob(NAME_PREFIX + "*"))


def cleanup(*, everything: bool = False) -> list[str]:
    """Remove leftovers of crashed runs: ephemeral labs whose owning process is gone, and
    `trl-*` namespaces or directories that belong to no run. With everything=True, also
    running and persistent labs. Returns what was removed."""
    removed: list[str] = []
    for name in list_runs():
        lab = Lab(name, persist=True, log=False)
        try:
            data = json.loads(lab.state_file.read_text())
        except (OSError, ValueError):
            data = {}
        if not data:
            # A run directory without state is either being created this second or broken.
            with contextlib.suppress(OSError):
                if time.time() - lab.run_dir.stat().st_mtime < 120 and not everything:
                    continue
        stale = not data or (not data.get("persist") and not _alive(data.get("owner_pid")))
        if everything or stale:
            with contextlib.suppress(LabError):
                lab = Lab.attach(name)
            lab.down()
            removed.append(lab.run_name)
    known = {NAME_PREFIX + n for n in list_runs()}
    for ns in list_namespaces(NAME_PREFIX):
        if ns.rsplit("-", 1)[0] not in known:
            remove_namespace(ns)
            removed.append(ns)
    if disk_root().is_dir():
        for d in disk_root().glob(NAME_PREFIX + "*"):
            if d.name not in known:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(str(d))
    return removed
