"""After confirmation: the point of no return, then retiring what the bond replaced.

Order matters for a power cut at any moment: the new profiles are already on disk (Persist)
and outrank the old ones, so the box boots bonded whether or not the old ones are gone yet.
The checkpoint is destroyed before anything is deleted, because a checkpoint rollback would
re-add a deleted profile as a new on-disk file, not where it came from.
"""

from __future__ import annotations

from tightrope.core.netplan_edit import remove_stanzas
from tightrope.errors import TightropeError
from tightrope.txn.steps import Context


def end_checkpoint(ctx: Context, chores: str) -> list[str]:
    """The point of no return: stop re-arming and destroy the checkpoint. From here the change
    is committed, even if the runner dies before `chores` are done."""
    problems: list[str] = []
    if ctx.rearm is not None:
        ctx.rearm.stop()
    if ctx.checkpoint is not None:
        try:
            ctx.backend.checkpoint_destroy(ctx.checkpoint)
        except TightropeError as exc:
            problems.append(f"destroying checkpoint: {exc}")
        ctx.checkpoint = None
    ctx.note("checkpoint destroyed: the change is committed")
    ctx.mark_committed(chores)
    return problems


def _chores(ctx: Context) -> str:
    todo = []
    stanzas = ctx.plan.discovery.netplan
    for path in sorted({s.path for s in stanzas}):
        keys = ", ".join(f"{s.section}.{s.key}" for s in stanzas if s.path == path)
        todo.append(f"remove {keys} from {path}")
    if todo:
        todo.append("run netplan generate")
    retire = [c.profile for c in ctx.plan.changes if c.action == "retire"]
    if retire:
        todo.append(f"retire {', '.join(retire)}")
    return "; ".join(todo) or "nothing"


def finish(ctx: Context) -> list[str]:
    """Returns problems met (the change itself is committed whatever they are)."""
    problems = end_checkpoint(ctx, _chores(ctx))
    problems += _edit_netplan(ctx)
    netplan_world = ctx.plan.discovery.storage_world == "netplan"
    if netplan_world and ctx.plan.discovery.netplan:
        # NetworkManager with netplan support rewrites a whole YAML file (comments lost) when
        # it deletes a netplan-defined profile; we edited the file ourselves, so let it just
        # re-read its store instead.
        try:
            ctx.backend.reload_profiles()
        except TightropeError as exc:
            problems.append(f"reloading profiles: {exc}")
    generated = {c.uuid for c in ctx.plan.discovery.claims if c.origin == "netplan"}
    for change in ctx.plan.changes:
        if change.action != "retire":
            continue
        if netplan_world and change.uuid in generated:
            ctx.note(f"retired {change.profile} (its netplan stanza is gone)")
            continue
        try:
            ctx.backend.delete_profile(change.uuid)
            ctx.note(f"retired {change.profile}")
        except TightropeError as exc:
            problems.append(f"retiring {change.profile}: {exc}")
    return problems


def _edit_netplan(ctx: Context) -> list[str]:
    stanzas = ctx.plan.discovery.netplan
    if not stanzas:
        return []
    problems: list[str] = []
    for path in sorted({s.path for s in stanzas}):
        raw = ctx.system.read_bytes(path)
        if raw is None:
            problems.append(f"{path} vanished before it could be edited")
            continue
        wanted = [(s.section, s.key) for s in stanzas if s.path == path]
        try:
            edit = remove_stanzas(raw.decode("utf-8"), wanted)
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path}: cannot edit ({exc}); remove {wanted} by hand")
            continue
        ctx.system.write_bytes(path, edit.text.encode("utf-8"), 0o600)
        how = "comments kept" if edit.preserved_layout else "rewritten, comments lost"
        ctx.note(f"removed {', '.join(f'{s}.{k}' for s, k in wanted)} from {path} ({how})")
    try:
        if ctx.system.netplan_generate():
            ctx.note("ran netplan generate")
    except Exception as exc:  # the YAML is already right; the next boot regenerates anyway
        problems.append(f"netplan generate failed: {exc}")
    return problems
