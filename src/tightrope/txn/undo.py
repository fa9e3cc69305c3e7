"""Undo a committed apply: bring back the exact profile set it replaced, as a confirmed
transaction of its own (checkpoint, verify, confirm from the old address, then commit).

The old profiles come back from the apply's backups with their own UUIDs, first in memory;
only after confirmation are the bond's profiles deleted, /etc keyfiles written back, and the
netplan files restored byte for byte and regenerated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tightrope.errors import TightropeError
from tightrope.txn.backup_step import backup_profile
from tightrope.txn.confirm_step import AwaitConfirm, hold_for_commit
from tightrope.txn.engine import Step
from tightrope.txn.finish import end_checkpoint
from tightrope.txn.netplan_commit import in_memory_files
from tightrope.txn.steps import (
    Checkpoint,
    Context,
    RolledBack,
)


class _Undo:
    def __init__(self, ctx: Context, inputs: dict[str, Any]) -> None:
        self.ctx = ctx
        self.of: str = inputs["of"]
        backup = ctx.store.txn_dir(self.of) / "backup"
        self.backup = backup
        self.manifest: dict[str, Any] = json.loads((backup / "manifest.json").read_text())
        self.old: list[dict[str, Any]] = [
            json.loads(p.read_text()) for p in sorted(backup.glob("*.json"))
            if p.name != "manifest.json"
        ]  # fmt: skip
        self.ours = [c["uuid"] for c in inputs["changes"] if c["action"] in ("add", "modify")]
        ports = {p.interface for p in ctx.config.ports}
        self.active = {i: u for i, u in self.manifest.get("active", {}).items() if i in ports}


class SaveCurrent:
    name = "backup"

    def __init__(self, undo: _Undo) -> None:
        self.u = undo

    def commit(self) -> None:
        ctx = self.u.ctx
        for uuid in self.u.ours:
            p = ctx.before.profile(uuid)
            if p is not None:
                backup_profile(ctx, p)
        ctx.note(f"saved the bond's {len(self.u.ours)} profile(s) before undoing {self.u.of}")

    def rollback(self) -> None:
        pass


class RestoreOld:
    name = "restore-profiles"

    def __init__(self, undo: _Undo) -> None:
        self.u = undo

    def commit(self) -> None:
        ctx = self.u.ctx
        for old in self.u.old:
            if ctx.before.profile(old["uuid"]) is not None:
                ctx.backend.update_profile(old["uuid"], old["settings"], to_disk=False)
            else:
                ctx.backend.add_profile(old["settings"], to_disk=False)
                ctx.added.append(old["uuid"])
        ctx.note(f"restored {len(self.u.old)} profile(s) in memory: "
                 + ", ".join(o["id"] for o in self.u.old))  # fmt: skip

    def rollback(self) -> None:
        pass  # the checkpoint removes them; Checkpoint.rollback sweeps ctx.added too


class ActivateOld:
    name = "activate"

    def __init__(self, undo: _Undo) -> None:
        self.u = undo

    def commit(self) -> None:
        ctx = self.u.ctx
        ctx.set_phase("activating", None)
        for iface, uuid in self.u.active.items():
            ctx.backend.activate(uuid, iface)
        bond = ctx.before.device(ctx.config.name)
        if bond is not None and bond.active_profile:
            ctx.backend.deactivate(bond.active_profile)
        ctx.note("activated " + ", ".join(f"{u} on {i}" for i, u in self.u.active.items()))

    def rollback(self) -> None:
        pass


class VerifyOld:
    name = "verify"

    def __init__(self, undo: _Undo) -> None:
        self.u = undo

    def commit(self) -> None:
        ctx = self.u.ctx
        ctx.set_phase("verifying", None)
        until = ctx.clock.mono() + ctx.verify_timeout_s
        wanted = self.u.manifest.get("addresses", {})
        while True:
            ctx.stop_if_asked()
            snap = ctx.snapshot()
            missing = []
            for iface, uuid in self.u.active.items():
                dev = snap.device(iface)
                if dev is None or dev.active_profile != uuid or dev.state != "activated":
                    missing.append(f"{iface} not active with its old profile")
                    continue
                lost = set(wanted.get(iface, ())) - set(dev.ip4_addresses)
                if lost:
                    missing.append(f"{iface} lacks {', '.join(sorted(lost))}")
            if not missing:
                ctx.note("verified: the old profiles are active with their addresses")
                return
            if ctx.clock.mono() >= until:
                raise RolledBack("undo verification failed: " + "; ".join(missing))
            ctx.clock.sleep(1.0)

    def rollback(self) -> None:
        pass


class PersistOld:
    name = "persist"

    def __init__(self, undo: _Undo) -> None:
        self.u = undo

    def commit(self) -> None:
        ctx = self.u.ctx
        hold_for_commit(ctx)
        for old in self.u.old:
            storage = old.get("filename", "")
            if storage.startswith("/etc/NetworkManager/"):
                ctx.backend.update_profile(old["uuid"], None, to_disk=True)
        ctx.system.sync()  # as Persist: on the disk before the point of no return

    def rollback(self) -> None:
        pass


def _chores(undo: _Undo) -> str:
    todo = [f"delete the bond's profiles ({', '.join(undo.ours)})"] if undo.ours else []
    paths = [entry["path"] for entry in undo.manifest.get("netplan", [])]
    if paths:
        todo.append(f"restore {', '.join(paths)} from the backup and run netplan generate")
    return "; ".join(todo) or "nothing"


def _finish(undo: _Undo) -> Callable[[Context], list[str]]:
    def finish(ctx: Context) -> list[str]:
        problems = end_checkpoint(ctx, _chores(undo))
        netplan = undo.manifest.get("commit_as") == "netplan"
        if not netplan:
            problems += _delete(ctx, undo.ours)
        for path in undo.manifest.get("netplan_created", []):
            ctx.system.remove(path)
            ctx.note(f"removed {path}")
        for entry in undo.manifest.get("netplan", []):
            data = (undo.backup / entry["backup"]).read_bytes()
            ctx.system.write_bytes(entry["path"], data, 0o600)
            ctx.note(f"restored {entry['path']} byte for byte")
        if undo.manifest.get("netplan") or netplan:
            restored = in_memory_files(ctx, {o["uuid"] for o in undo.old})
            try:
                ctx.system.netplan_generate()
                for path in restored:  # netplan's rendering takes over (netplan_commit.py)
                    ctx.system.remove(path)
                ctx.backend.reload_profiles()
                ctx.note("ran netplan generate and reloaded NetworkManager's profiles")
            except Exception as exc:
                problems.append(f"netplan generate / reload: {exc}")
        if netplan:
            # The bond's profiles went with tightrope's file; any left in memory go now.
            left = {p.uuid for p in ctx.snapshot().profiles} & set(undo.ours)
            problems += _delete(ctx, sorted(left))
        ctx.note(f"undid transaction {undo.of}")
        return problems

    return finish


def _delete(ctx: Context, uuids: list[str]) -> list[str]:
    problems = []
    for uuid in uuids:
        try:
            ctx.backend.delete_profile(uuid)
        except TightropeError as exc:
            problems.append(f"deleting {uuid}: {exc}")
    return problems


def prepare_undo(
    ctx: Context, inputs: dict[str, Any]
) -> tuple[list[Step], Callable[[Context], list[str]]]:
    undo = _Undo(ctx, inputs)
    steps: list[Step] = [SaveCurrent(undo), Checkpoint(ctx), RestoreOld(undo), ActivateOld(undo),
                         VerifyOld(undo), AwaitConfirm(ctx), PersistOld(undo)]  # fmt: skip
    return steps, _finish(undo)
