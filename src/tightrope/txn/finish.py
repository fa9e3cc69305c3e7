"""After confirmation: the point of no return, then retiring what the bond replaced.

Order matters for a power cut at any moment: with keyfiles the new profiles are already on
disk (Persist) and outrank the old ones, so the box boots bonded whether or not the old ones
are gone yet; with netplan, txn/netplan_commit.py writes tightrope's own file first.
The checkpoint is destroyed before anything is deleted, because a checkpoint rollback would
re-add a deleted profile as a new on-disk file, not where it came from.
"""

from __future__ import annotations

from tightrope.core.storage import CommitAs
from tightrope.core.verify import verify
from tightrope.errors import TightropeError
from tightrope.txn.chores import Chore, commit_and_do, end_checkpoint
from tightrope.txn.netplan_commit import netplan_chores
from tightrope.txn.steps import Context

__all__ = ["end_checkpoint", "finish"]


def chores(ctx: Context) -> tuple[list[Chore], list[str]]:
    out: list[Chore] = []
    problems: list[str] = []
    if ctx.plan.storage.commit_as is CommitAs.NETPLAN:
        out, problems = netplan_chores(ctx)
    for change in ctx.plan.changes:
        if change.action == "retire":
            out.append(_retire(ctx, change.profile, change.uuid))
    return out, problems


def finish(ctx: Context) -> list[str]:
    """Returns problems met (the change itself is committed whatever they are)."""
    todo, problems = chores(ctx)
    return commit_and_do(ctx, todo) + problems + ports_not_joined(ctx)


def ports_not_joined(ctx: Context) -> list[str]:
    """The ports verification did not wait for that have still not joined: what is known of
    each, so that a committed bond without its Wi-Fi backup never reads as a plain success."""
    if not ctx.port_problems:
        return []
    try:
        snap = ctx.snapshot()
    except TightropeError as exc:
        return [f"could not read whether {', '.join(ctx.port_problems)} joined: {exc}"]
    verdict = verify(ctx.config, snap, wifi_fatal=False, all_ports=False)
    out = []
    bond = ctx.config.name
    for check in verdict.not_waited_for:
        iface = check.name.removeprefix("port ")
        known = ctx.port_problems.get(iface)
        dev = snap.device(iface)
        # NetworkManager stopped trying it (failed, or back to disconnected): not a matter of
        # seconds, whatever the reason.
        gave_up = dev is not None and dev.state in ("failed", "disconnected")
        if known or gave_up:
            out.append(f"{iface} is not in {bond}: {known or check.detail}; the bond runs "
                       "without it until that is fixed")  # fmt: skip
        elif hint := ctx.port_hints.get(iface):
            out.append(f"{iface} had not joined {bond} at the commit ({check.detail}): {hint}; "
                       "`tightrope status` shows whether it joins")  # fmt: skip
        else:
            out.append(f"{iface} was still joining {bond} at the commit ({check.detail}); "
                       "`tightrope status` shows when it has joined")  # fmt: skip
    return out



def _retire(ctx: Context, profile: str, uuid: str) -> Chore:
    def run() -> list[str]:
        if ctx.plan.storage.commit_as is CommitAs.NETPLAN and _netplan_made(ctx, uuid):
            # NetworkManager would rewrite the YAML file to delete it; netplan generate and
            # the reload already took it away with its stanza.
            ctx.note(f"retired {profile} (its netplan stanza is gone)")
            return []
        try:
            ctx.backend.delete_profile(uuid)
        except TightropeError as exc:
            if _gone(ctx, uuid):  # retired already, by a runner killed before striking it off
                ctx.note(f"retired {profile} (it was gone already)")
                return []
            return [f"retiring {profile}: {exc}"]
        ctx.note(f"retired {profile}")
        return []

    return Chore(f"retire {profile}", run)


def _gone(ctx: Context, uuid: str) -> bool:
    try:
        return ctx.snapshot().profile(uuid) is None
    except TightropeError:
        return False


def _netplan_made(ctx: Context, uuid: str) -> bool:
    return any(c.uuid == uuid and c.origin == "netplan" for c in ctx.plan.discovery.claims)
