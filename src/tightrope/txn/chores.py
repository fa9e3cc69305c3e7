"""The point of no return, and the chores after it, each recorded as it is done.

From the moment the checkpoint is destroyed the change is committed, whatever happens next.
What is left to do is written into the state file then, and rewritten after every chore, so
that a runner killed or a box powered off half-way leaves a true list behind: `status` shows
it, and applying the same configuration again plans exactly what is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tightrope.errors import TightropeError
from tightrope.txn.steps import Context


@dataclass(frozen=True)
class Chore:
    what: str  # in the admin's words: "write /etc/netplan/...", "retire netplan-eth0"
    run: Callable[[], list[str]]  # returns problems met; the change stays committed


def todo(chores: list[Chore]) -> str:
    return "; ".join(c.what for c in chores) or "nothing"


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


def commit_and_do(ctx: Context, chores: list[Chore]) -> list[str]:
    problems = end_checkpoint(ctx, todo(chores))
    for i, chore in enumerate(chores):
        problems += chore.run()
        if left := chores[i + 1 :]:
            ctx.mark_committed(todo(left))
    return problems
