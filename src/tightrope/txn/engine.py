"""A transaction is a list of steps, each with commit() and rollback().

Steps run in order; on any failure the steps already committed are rolled back in reverse
and the original error is re-raised (pyroute2's NDB transactions). A rollback that fails is
recorded and the others still run: leaving the box half-restored because one undo failed
would be the worst outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class Step(Protocol):
    name: str

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


Log = Callable[[str, str, str], None]  # (step name, status, detail)


@dataclass
class Transaction:
    steps: Sequence[Step]
    log: Log
    done: list[Step] = field(default_factory=list)
    rollback_errors: list[tuple[str, BaseException]] = field(default_factory=list)

    def run(self) -> None:
        for step in self.steps:
            self.log(step.name, "started", "")
            try:
                step.commit()
            except BaseException as exc:
                self.log(step.name, "failed", _describe(exc))
                self.rollback()
                raise
            self.done.append(step)
            self.log(step.name, "done", "")

    def rollback(self) -> None:
        while self.done:
            step = self.done.pop()
            try:
                step.rollback()
            except Exception as exc:
                self.rollback_errors.append((step.name, exc))
                self.log(step.name, "rollback-failed", _describe(exc))
            else:
                self.log(step.name, "rolled-back", "")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
