"""The steps of a safe apply, in order, each with commit() and rollback().

While the NetworkManager checkpoint is alive, a step's own rollback stays out of the way:
CheckpointRollback restores devices, profiles and addresses in one move inside the daemon.
Only when the checkpoint is gone (NetworkManager restarted) do the steps undo by hand.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tightrope.core.model import BondConfig
from tightrope.core.plan import Plan
from tightrope.core.profiles import DesiredProfile
from tightrope.core.snapshot import Snapshot
from tightrope.core.verify import Verdict
from tightrope.errors import BackendUnavailable, TightropeError
from tightrope.txn.backend import Backend, DependencyNotReady, DeviceEvents, System
from tightrope.txn.clock import Clock
from tightrope.txn.state import Store

T = TypeVar("T")


class RolledBack(TightropeError):
    """The change was undone; `reason` says why in the admin's words."""


@dataclass
class Context:
    txn_id: str
    config: BondConfig
    plan: Plan
    before: Snapshot  # with secrets: the backups come from it
    backend: Backend
    system: System
    store: Store
    clock: Clock
    note: Callable[[str], None]  # progress line for the journal and the state file
    set_phase: Callable[[str, float | None], None]
    # The checkpoint is destroyed: record the change as committed, with what is left to do.
    mark_committed: Callable[[str], None]
    confirm_timeout_s: int = 120
    verify_timeout_s: int = 60
    auto_confirm: bool = False
    # Wait for every port (a Wi-Fi port that cannot join then rolls the change back); else a
    # port still joining is not waited for once another carries the bond.
    verify_all_ports: bool = False
    ssh_client: str | None = None
    checkpoint: str | None = None
    deadline: float | None = None  # the confirm window's end (boot clock)
    # However long activation and verification take, the change ends unconfirmed here: the
    # re-armed guard never reaches past it, so even a hung runner cannot hold the box.
    last_moment: float | None = None
    rearm: Rearmer | None = None
    probe_via: str | None = None  # interface auto-confirm pings through (the bond; None: any)
    added: list[str] = field(default_factory=list)
    verdict: Verdict | None = None
    events: DeviceEvents | None = None  # the bond's and ports' signals, from activation on
    refusals: list[str] = field(default_factory=list)  # port activations NetworkManager refused
    # ports verified without waiting for them -> what is known to be wrong ("" if nothing),
    # and what their signals hinted meanwhile (a handshake cut once)
    port_problems: dict[str, str] = field(default_factory=dict)
    port_hints: dict[str, str] = field(default_factory=dict)
    # Set by the verify step when it did not wait for a port: reads that port's signals on,
    # while the change waits for its confirmation.
    follow_ports: Callable[[], None] | None = None
    # Done once while the change waits for its confirmation (idle seconds): what the commit
    # would otherwise do after it, while the admin waits.
    while_waiting: list[Callable[[], None]] = field(default_factory=list)

    def close_events(self) -> None:
        if self.events is not None:
            self.events.close()
            self.events = None

    def stop_if_asked(self) -> None:
        """`tightrope rollback` works in every phase, and no change outlives its cap."""
        if self.store.flag(self.txn_id, "abort"):
            raise RolledBack("rolled back on request (`tightrope rollback`)")
        if self.last_moment is not None and self.clock.mono() >= self.last_moment:
            raise RolledBack(f"still not confirmed after the {self.cap_s():.0f} s a change may "
                             "stay unconfirmed (verify + confirm windows + "
                             f"{ACTIVATION_ALLOWANCE_S} s)")  # fmt: skip

    def cap_s(self) -> float:
        return self.verify_timeout_s + self.confirm_timeout_s + ACTIVATION_ALLOWANCE_S

    def checkpoint_alive(self) -> bool:
        cp = self.checkpoint
        return cp is not None and self.patiently(lambda: self.backend.checkpoint_exists(cp))

    def snapshot(self) -> Snapshot:
        return self.patiently(self.backend.snapshot)

    def patiently(self, call: Callable[[], T], wait_s: float = 90.0) -> T:
        """NetworkManager restarting is a moment, not a verdict: retry while it is away, so a
        rollback never gives up on the very daemon it needs."""
        until = self.clock.mono() + wait_s
        while True:
            try:
                return call()
            except BackendUnavailable:
                if self.clock.mono() >= until:
                    raise
                self.clock.sleep(1.0)


NM_MARGIN_S = 10
ACTIVATION_ALLOWANCE_S = 120  # backup, checkpoint, profiles, activation: seconds, even on a Pi


class Rearmer:
    """Keeps NetworkManager's rollback timer short while we live, so that if this process dies
    the box rolls back within `guard_s`; our own deadline decides the confirm window."""

    def __init__(self, ctx: Context, guard_s: int = 30, every_s: float = 5.0) -> None:
        self.ctx, self.guard_s, self.every_s = ctx, guard_s, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rearm", daemon=True)
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # a checkpoint that failed never started it
            self._thread.join(timeout=10)

    def timeout_now(self) -> int:
        deadline = self.ctx.deadline
        if deadline is None:
            last = self.ctx.last_moment
            if last is None:
                return self.guard_s
            left = last - self.ctx.clock.mono() + NM_MARGIN_S
            return max(1, min(self.guard_s, int(left + 0.999)))
        # NetworkManager's timer runs a little past our deadline, so that while we live it is
        # our rollback (with its recorded reason) that ends the window, not the daemon's.
        remaining = deadline - self.ctx.clock.mono() + NM_MARGIN_S
        return max(1, min(self.guard_s, int(remaining + 0.999)))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            cp = self.ctx.checkpoint
            if cp is None:
                continue
            try:
                self.ctx.backend.checkpoint_adjust(cp, self.timeout_now())
            except Exception:  # a missed re-arm only shortens the window; never crash on it
                self.errors += 1


class Checkpoint:
    name = "checkpoint"
    # Made, then failed (fault bench: its note hit a full disk): undone at once, not left to
    # NetworkManager's 30 s guard, which would refuse an apply made again meanwhile.
    undo_if_failed = True

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def commit(self) -> None:
        ctx = self.ctx
        devices = [
            i
            for i in (ctx.config.name, *(p.interface for p in ctx.config.ports))
            if ctx.before.device(i) is not None
        ]
        ctx.last_moment = ctx.clock.mono() + ctx.cap_s()
        ctx.rearm = Rearmer(ctx)
        ctx.checkpoint = ctx.backend.checkpoint_create(devices, ctx.rearm.guard_s)
        ctx.rearm.start()
        ctx.note(f"checkpoint {ctx.checkpoint} on {', '.join(devices)}")

    def rollback(self) -> None:
        ctx = self.ctx
        if ctx.rearm is not None:
            ctx.rearm.stop()
        if ctx.checkpoint_alive():
            assert ctx.checkpoint is not None
            ctx.backend.checkpoint_rollback(ctx.checkpoint)
            tell(ctx, "NetworkManager rolled the checkpoint back")
        # Whatever the checkpoint did or could not do: no profile of ours may remain (usually
        # already gone: DELETE_NEW_CONNECTIONS removed them).
        with contextlib.suppress(TightropeError):
            ctx.backend.delete_profiles(ctx.added)


def tell(ctx: Context, message: str) -> None:
    """A note while undoing: best effort. Measured (fault bench, activation x disk full): a
    note that could not be written skipped the rest of the checkpoint's rollback."""
    with contextlib.suppress(OSError):
        ctx.note(message)


class AddProfiles:
    name = "add-profiles"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.modified: list[str] = []

    def commit(self) -> None:
        ctx = self.ctx
        actions = {c.uuid: c.action for c in ctx.plan.changes}
        # Autoconnect blocked until Activate asks: measured in the lab, NetworkManager started
        # the bond by itself while its ports were still being added (eth0 left its old
        # address then), and Activate's own request restarted everything 0.7 s later.
        for want in ctx.plan.desired:
            action = actions.get(want.uuid)
            if action == "add":
                ctx.backend.add_profile(_with_priority(want), to_disk=False,
                                        block_autoconnect=True)  # fmt: skip
                ctx.added.append(want.uuid)
            elif action == "modify":
                # In memory only: the file on disk keeps the old version until commit, so a
                # reboot before confirmation boots what worked.
                ctx.backend.update_profile(want.uuid, _with_priority(want), to_disk=False,
                                           block_autoconnect=True)  # fmt: skip
                self.modified.append(want.uuid)
        ctx.note(f"added {len(ctx.added)} and changed {len(self.modified)} profile(s) in memory")

    def rollback(self) -> None:
        ctx = self.ctx
        if ctx.checkpoint_alive():
            return
        with contextlib.suppress(TightropeError):
            ctx.backend.delete_profiles(ctx.added[::-1])
        for uuid in self.modified:
            old = ctx.before.profile(uuid)
            if old is not None:
                ctx.backend.update_profile(uuid, old.settings, to_disk=old.storage == "etc")


def _with_priority(want: DesiredProfile) -> dict[str, dict[str, Any]]:
    # Old profiles stay (deactivated) until commit; if a port drops, NetworkManager must pick
    # ours again, not the old one, when it autoconnects the device.
    settings = {k: dict(v) for k, v in want.settings.items()}
    settings["connection"]["autoconnect-priority"] = 10
    return settings


class Activate:
    name = "activate"
    # The bond may be up, with ports in it, when a later call fails: measured in the fault
    # bench with NetworkManager restarted mid-activation, which also takes the checkpoint with
    # it. Left alone, the restarted NetworkManager kept eth0 in the bond as an external device
    # (3 runs of 7), once answering at the new address for minutes after "rolled back".
    undo_if_failed = True

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def commit(self) -> None:
        ctx = self.ctx
        ctx.set_phase("activating", None)
        bond, *ports = ctx.plan.desired
        # Subscribe before activating: a refused PSK shows in a signal NetworkManager sends
        # once; in the lab it fell back to the old Wi-Fi profile 0.7 s later, and a poll
        # once a second saw nothing of it.
        try:
            ctx.events = ctx.backend.device_events([d.interface for d in ctx.plan.desired])
        except Exception as exc:  # only slower without them: never a reason to fail
            ctx.note(f"cannot follow NetworkManager's signals ({exc}); verification polls")
        try:
            ctx.backend.activate(bond.uuid)
            for port in ports:
                if ctx.before.device(port.interface) is not None:
                    activate_port(ctx, port)
        except BaseException:
            ctx.close_events()
            raise
        ctx.note(f"activated {bond.id} with {', '.join(p.interface for p in ports)}")

    def rollback(self) -> None:
        ctx = self.ctx
        ctx.close_events()
        if ctx.checkpoint_alive():
            return
        for iface, uuid in _previously_active(ctx).items():
            try:
                # Patiently: a NetworkManager that just restarted is away for seconds.
                ctx.patiently(functools.partial(ctx.backend.activate, uuid, iface))
            except TightropeError as exc:
                tell(ctx, f"could not re-activate {uuid} on {iface}: {exc}")
        _remove_half_built_bond(ctx)


def _remove_half_built_bond(ctx: Context) -> None:
    """Without the checkpoint nothing else removes a bond this change created: measured once
    in 7 fault-bench runs, a NetworkManager restarted mid-activation took the half-built bond
    over as a profile of its own (a new uuid, in /run) and kept it. A bond that existed
    before the change is left to the other steps."""
    name = ctx.plan.desired[0].interface
    if not name or ctx.before.device(name) is not None:
        return
    known = {p.uuid for p in ctx.before.profiles} | {d.uuid for d in ctx.plan.desired}
    try:
        now = ctx.snapshot()
        for p in now.profiles:
            if p.interface == name and p.uuid not in known:
                ctx.patiently(functools.partial(ctx.backend.delete_profile, p.uuid))
                tell(ctx, f"removed {p.id} ({p.uuid}), made by NetworkManager for the new {name}")
        if now.device(name) is not None:
            ctx.patiently(functools.partial(ctx.backend.delete_device, name))
            tell(ctx, f"removed the half-built {name}")
    except TightropeError as exc:
        tell(ctx, f"could not remove the half-built {name}: {exc}")


# NetworkManager answers ActivateConnection for the bond before the bond device is ready
# for ports, and a port asked for in that gap is refused with DependencyFailed ("Controller
# device 'bond0' can't be activated: Device unmanaged or not available"). The bond brings
# its ports up by itself (autoconnect-slaves), so the refusal is no verdict: the bond may
# simply be slow, or it may have failed already (in the lab, its address probe found a
# conflict first). Ask again for a short while, then leave the verdict to verification,
# which follows the bond's own signals and names the real reason.
PORT_RETRY_S = 3.0
PORT_RETRY_EVERY_S = 0.25


def activate_port(ctx: Context, port: DesiredProfile) -> None:
    assert port.interface
    give_up = ctx.clock.mono() + PORT_RETRY_S
    while True:
        try:
            ctx.backend.activate(port.uuid, port.interface)
            return
        except DependencyNotReady as exc:
            if ctx.clock.mono() >= give_up:
                ctx.refusals.append(f"{port.interface}: {exc}")
                ctx.note(f"NetworkManager would not take {port.interface} into the bond yet "
                         f"({exc}); verification decides")  # fmt: skip
                return
        ctx.clock.sleep(PORT_RETRY_EVERY_S)
        ctx.stop_if_asked()


def _previously_active(ctx: Context) -> dict[str, str]:
    ours = {d.interface for d in ctx.plan.desired}
    return {
        d.interface: d.active_profile
        for d in ctx.before.devices
        if d.interface in ours and d.active_profile
    }
