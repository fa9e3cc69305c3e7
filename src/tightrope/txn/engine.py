"""A transaction is a list of steps, each with commit() and rollback().

Steps run in order; on any failure the steps already committed are rolled back in reverse
and the original error is re-raised (pyroute2's NDB transactions). A step that can fail
half-way (it set something in motion before its error) says so with `undo_if_failed`, and is
rolled back first. A rollback that fails is recorded and the others still run: leaving the
box half-restored because one undo failed would be the worst outcome.
"""

from __future__ import annotations

import contextlib
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
    # Told why, before any rollback runs: the record says "rolling back, because..." while
    # the change's address still carries whoever is watching it.
    failing: Callable[[BaseException], None] | None = None
    done: list[Step] = field(default_factory=list)
    rollback_errors: list[tuple[str, BaseException]] = field(default_factory=list)

    def run(self) -> None:
        for step in self.steps:
            try:
                # A log that cannot be written (a full disk) fails the change like a step,
                # and it is rolled back like one.
                self.log(step.name, "started", "")
                step.commit()
            except BaseException as exc:
                self._tell(step.name, "failed", _describe(exc))
                if self.failing is not None:
                    with contextlib.suppress(Exception):
                        self.failing(exc)
                if getattr(step, "undo_if_failed", False):
                    self.done.append(step)
                self.rollback()
                raise
            self.done.append(step)
            try:
                self.log(step.name, "done", "")
            except BaseException:
                self.rollback()
                raise

    def rollback(self) -> None:
        while self.done:
            step = self.done.pop()
            try:
                step.rollback()
            except Exception as exc:
                self.rollback_errors.append((step.name, exc))
                self._tell(step.name, "rollback-failed", _describe(exc))
            else:
                self._tell(step.name, "rolled-back", "")

    def _tell(self, name: str, status: str, detail: str) -> None:
        # While failing or rolling back the record is best effort; the rollback is not: a
        # full disk once stopped it at the first log line (the fault bench's disk-full cell).
        with contextlib.suppress(Exception):
            self.log(name, status, detail)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
