"""The first step of a safe apply: everything the change could touch, backed up before it
does (steps.py holds the others). Backups hold old PSKs: root-only, pruned with their
transaction (txn/state.py)."""

from __future__ import annotations

import json
from typing import Any

from tightrope.core.snapshot import Profile
from tightrope.core.storage import CommitAs
from tightrope.txn.steps import Context


def backup_profile(ctx: Context, p: Profile) -> None:
    """A profile's full settings (secrets included, root-only file), as undo reads it back."""
    record = {"uuid": p.uuid, "id": p.id, "filename": p.filename, "flags": p.flags,
              "settings": p.settings}  # fmt: skip
    ctx.store.write_backup(ctx.txn_id, f"{p.uuid}.json", json.dumps(record, indent=2))


def _backup_netplan_file(ctx: Context, manifest: dict[str, Any], path: str) -> bool:
    """The file byte for byte, listed for undo to write back; False if it does not exist."""
    raw = ctx.system.read_bytes(path)
    if raw is None:
        return False
    name = "netplan-" + path.strip("/").replace("/", "_")
    ctx.store.write_backup(ctx.txn_id, name, raw)
    manifest["netplan"].append({"path": path, "backup": name})
    return True


class Backup:
    name = "backup"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def commit(self) -> None:
        ctx = self.ctx
        touched = {c.uuid for c in ctx.plan.changes if c.action in ("modify", "retire")}
        manifest: dict[str, Any] = {"profiles": [], "netplan": []}
        for p in ctx.before.profiles:
            entry = {"uuid": p.uuid, "id": p.id, "filename": p.filename, "storage": p.storage}
            manifest["profiles"].append(entry)
            if p.uuid not in touched:
                continue
            backup_profile(ctx, p)
            raw = ctx.system.read_bytes(p.filename) if p.filename else None
            if raw is not None:
                ctx.store.write_backup(ctx.txn_id, f"{p.uuid}.file", raw)
        for path in sorted({n.path for n in ctx.plan.discovery.netplan}):
            _backup_netplan_file(ctx, manifest, path)
        if ctx.plan.storage.commit_as is CommitAs.NETPLAN:
            # tightrope's own file: undo restores what it held before, or removes it.
            manifest["commit_as"] = CommitAs.NETPLAN.value
            own = ctx.plan.storage.netplan_file
            if not _backup_netplan_file(ctx, manifest, own):
                manifest["netplan_created"] = [own]
        manifest["addresses"] = {
            d.interface: list(d.ip4_addresses) for d in ctx.before.devices if d.ip4_addresses
        }
        manifest["active"] = {
            d.interface: d.active_profile for d in ctx.before.devices if d.active_profile
        }
        ctx.store.write_backup(ctx.txn_id, "manifest.json", json.dumps(manifest, indent=2))
        # What the plan was made from, secrets left out: a runner killed after the point of
        # no return leaves chores that the next root command rebuilds from it (txn/resume.py).
        ctx.store.save_before(ctx.txn_id, ctx.before)
        ctx.note(
            f"backed up {len(touched)} profile(s) and {len(manifest['netplan'])} netplan file(s)"
        )

    def rollback(self) -> None:
        pass  # backups are kept: they are what `undo` and a post-mortem need
