"""`tightrope watch`: what happens to the bond, live, with millisecond timestamps.

Three sources merged into one stream: NetworkManager's D-Bus signals (device and activation
states, Wi-Fi access point and signal, checkpoints, the daemon restarting), the kernel's
bonding state (active port, MII per port; /proc/net/bonding sampled every 20 ms), and the
kernel's address and route changes (`ip -ts monitor`). A fourth, tightrope's own transactions
(phase and step changes read from the state directory), says why the others move.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tightrope.core.procbond import parse_proc_bond
from tightrope.proto import WatchEvent
from tightrope.txn.clock import boottime
from tightrope.txn.state import DEFAULT_ROOT, Store, TxnState

_IP_MONITOR = re.compile(r"^\[(?P<ts>[^\]]+)\]\s*(?P<rest>.*)$")


def describe_nm(member: str, interface: str, values: dict[str, Any]) -> str | None:
    """Pure: which NetworkManager signals an admin watching a bond cares about, in words."""
    if member == "StateChanged" and interface.endswith(".Device"):
        return f"{values['old']} -> {values['new']} ({values['reason']})"
    if member == "StateChanged" and interface.endswith(".Connection.Active"):
        return f"activation {values['state']}"
    if member == "NameOwnerChanged":
        return "NetworkManager stopped" if not values.get("new") else "NetworkManager started"
    if member == "PropertiesChanged":
        if "Carrier" in values:  # a bond port keeps its state; its carrier is what moves
            return "carrier up" if values["Carrier"] else "carrier down"
        if "Strength" in values:
            return f"signal {values['Strength']}%"
        if "ActiveAccessPoint" in values:
            return f"access point {values['ActiveAccessPoint']}"
        if "Checkpoints" in values:
            return f"checkpoints now {len(values['Checkpoints'])}"
    return None


def parse_ip_monitor(line: str) -> WatchEvent | None:
    """Pure: one `ip -ts monitor address route` line -> event."""
    m = _IP_MONITOR.match(line.strip())
    if not m:
        return None
    rest = m["rest"]
    try:
        at = time.mktime(time.strptime(m["ts"].split(".")[0], "%Y-%m-%dT%H:%M:%S"))
        frac = m["ts"].split(".")[1] if "." in m["ts"] else "0"
        at += float("0." + "".join(ch for ch in frac if ch.isdigit()))
    except (ValueError, IndexError):
        at = time.time()
    words = rest.split()
    subject = next((words[i + 1] for i, w in enumerate(words[:-1]) if w == "dev"), "")
    if rest.startswith("Deleted"):
        return WatchEvent(source="kernel", subject=subject,
                          what="removed " + " ".join(words[1:4]), at=at)  # fmt: skip
    if words and ("inet" in words[:3] or words[0] in ("default", "local") or "via" in words):
        return WatchEvent(source="kernel", subject=subject, what="added " + " ".join(words[:4]),
                          at=at)  # fmt: skip
    return None


def describe_txn(before: TxnState | None, now: TxnState, at: float) -> list[str]:
    """Pure: what changed in a transaction between two reads of its state, in words; `at` is
    the boot clock (txn.clock.boottime) when `now` was read."""
    said: list[str] = []
    if before is None or before.phase != now.phase:
        line = f"{now.kind} {now.phase}"
        if now.phase == "awaiting-confirm" and now.deadline_boot is not None:
            left = now.deadline_boot - at
            line += f" (NetworkManager rolls back in {left:.0f} s unless confirmed)"
        if now.finished and now.reason:
            line += f": {now.reason}"
        said.append(line)
    seen = len(before.steps) if before is not None else 0
    for step in now.steps[seen:]:
        if step.status in ("done", "rolled-back", "rollback-failed"):
            said.append(
                f"step {step.name} {step.status}" + (f": {step.detail}" if step.detail else "")
            )
    return said


class Watch:
    """The four sources, each in its own thread, into one queue (box.env.EventSource)."""

    def __init__(self, state_root: Path = DEFAULT_ROOT) -> None:
        self._store = Store(state_root)
        self.events: queue.Queue[WatchEvent] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._procs: list[subprocess.Popen[str]] = []

    def _emit(self, source: str, subject: str, what: str, at: float | None = None) -> None:
        self.events.put(WatchEvent(source=source, subject=subject, what=what,
                                   at=at or time.time()))  # fmt: skip

    def _bonds(self) -> None:
        last: dict[str, tuple[str | None, dict[str, str]]] = {}
        while not self._stop.is_set():
            for path in Path("/proc/net/bonding").glob("*"):
                try:
                    rt = parse_proc_bond(path.read_text())
                except (OSError, ValueError):
                    continue
                links = {p.interface: p.mii_status for p in rt.ports}
                prev = last.get(path.name)
                if prev is not None:
                    if prev[0] != rt.active_port:
                        self._emit("bond", path.name, f"active port {prev[0] or 'none'} -> "
                                   f"{rt.active_port or 'none'}")  # fmt: skip
                    for iface, status in links.items():
                        if prev[1].get(iface) != status:
                            self._emit("bond", iface, f"link {status} in {path.name}")
                last[path.name] = (rt.active_port, links)
            time.sleep(0.02)

    def _txns(self) -> None:
        seen: dict[str, TxnState] = {}
        first = True
        while not self._stop.is_set():
            try:
                ids = self._store.all_ids()[-3:]
            except OSError:  # not root: the state directory is root-only
                return
            for txn_id in ids:
                try:
                    now = self._store.load(txn_id)
                except Exception:  # being written, or not ours to read
                    continue
                before = seen.get(txn_id)
                # Old, finished transactions are history, not events.
                if not (first and now.finished):
                    for what in describe_txn(before, now, boottime()):
                        self._emit("txn", txn_id, what)
                seen[txn_id] = now
            first = False
            time.sleep(0.2)

    def _kernel(self) -> None:
        try:
            proc = subprocess.Popen(["ip", "-ts", "monitor", "address", "route"],
                                    stdout=subprocess.PIPE, text=True)  # fmt: skip
        except OSError:
            return
        self._procs.append(proc)
        if self._stop.is_set():  # stopped while ip was starting: stop() did not see it
            proc.terminate()
        assert proc.stdout is not None
        for line in proc.stdout:
            ev = parse_ip_monitor(line)
            if ev is not None:
                self.events.put(ev)
        proc.wait()  # a long-lived agent watches again and again: leave no zombies

    def _nm(self) -> None:
        from tightrope.nm.events import EventStream

        names = _device_names()
        try:
            with EventStream() as stream:
                # Subscribing can take seconds on a slow box; say when events will be seen.
                self._emit("nm", "NetworkManager", "listening to signals")
                while not self._stop.is_set():
                    ev = stream.get(timeout=0.5)
                    if ev is None:
                        continue
                    what = describe_nm(ev.member, ev.interface, ev.values)
                    if what is not None:
                        # A bond made after the watch began is named by the stream.
                        subject = ev.device or names.get(ev.path, ev.path.rsplit("/", 1)[-1])
                        self._emit("nm", subject, what)
        except Exception as exc:  # the other sources go on without D-Bus
            self._emit("nm", "NetworkManager", f"signals unavailable: {exc}")

    def start(self) -> Watch:
        for target in (self._bonds, self._kernel, self._nm, self._txns):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def get(self, timeout: float) -> WatchEvent | None:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.terminate()


def _device_names() -> dict[str, str]:
    from tightrope.nm import build
    from tightrope.nm.lean import run_lean

    try:

        async def work(bus: Any) -> dict[str, str]:
            return build.device_names(await bus.managed_objects())

        names: dict[str, str] = run_lean(work)
        return names
    except Exception:
        return {}
