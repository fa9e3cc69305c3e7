"""The point of no return, and the chores after it, each recorded as it is done.

From the moment the checkpoint is destroyed the change is committed, whatever happens next.
What is left to do is written into the state file then, and rewritten after every chore, so
that a runner killed or a box powered off half-way leaves a true list behind: `status` shows
it, and applying the same configuration again plans exactly what is left.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from tightrope.errors import TightropeError
from tightrope.txn.steps import Context


@dataclass(frozen=True)
class Chore:
    what: str  # in the admin's words: "write /etc/netplan/...", "retire netplan-eth0"
    run: Callable[[], list[str]]  # returns problems met; the change stays committed


UNRECORDED = "could not record the progress"


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
    ctx.note = _best_effort(ctx.note)
    ctx.note("checkpoint destroyed: the change is committed")
    return problems + _record(ctx, chores)


def _record(ctx: Context, left: str) -> list[str]:
    """What is left, in the state file; a problem (not an error) when it cannot be written:
    the chores make the box whole, their record comes second. Measured (fault bench, bug 6):
    a full state directory stopped them here, the bond left in memory beside the old
    profiles."""
    try:
        ctx.mark_committed(left)
    except OSError as exc:
        return [f"{UNRECORDED} under {ctx.store.root} ({exc.strerror or exc}); the rest was "
                "done all the same"]  # fmt: skip
    return []


def _best_effort(note: Callable[[str], None]) -> Callable[[str], None]:
    """From the point of no return a note that cannot be written (a full state directory)
    must not stop the chores: the journal has the line already, the state file gets what fits."""

    def told(message: str) -> None:
        with contextlib.suppress(OSError):
            note(message)

    return told


def commit_and_do(ctx: Context, chores: list[Chore]) -> list[str]:
    problems = end_checkpoint(ctx, todo(chores))
    recorded = not any(p.startswith(UNRECORDED) for p in problems)
    for i, chore in enumerate(chores):
        problems += chore.run()
        if (left := chores[i + 1 :]) and recorded:
            failed = _record(ctx, todo(left))
            problems += failed
            recorded = not failed
    return problems
