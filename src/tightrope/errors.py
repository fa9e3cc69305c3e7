"""One small error tree. Each error says what the user should do next.

Exit codes are mapped here and nowhere else, so scripts can rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Exit(IntEnum):
    OK = 0  # success; for `plan`: the desired state is already in place
    FAILED = 1  # the operation ran and failed (e.g. rolled back)
    USAGE = 2  # bad command line
    INVALID = 3  # the desired state is invalid; nothing was changed
    NM_UNREACHABLE = 4  # NetworkManager (or the box) could not be reached
    CHANGES = 10  # `plan`: changes are needed (like `diff` returning 1, but distinct)
    BUSY = 5  # another transaction is pending
    NOT_ROOT = 6  # needs root on the box
    LAB = 7  # the lab could not be built or driven
    SSH_AUTH = 8  # SSH refused us: authentication failed
    HOST_KEY = 9  # the box's host key is unknown or changed (or another machine answered)
    BOX_UNSUPPORTED = 11  # the box lacks python3 3.10+, or speaks another protocol
    PLAN_CHANGED = 12  # the box changed between the agreed plan and the start; nothing changed
    INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input: where, what, and how to fix it."""

    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} (fix: {self.fix})"


class TightropeError(Exception):
    """Base of every error a user may see. Never shown with a traceback."""

    exit_code: Exit = Exit.FAILED
    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class ConfigError(TightropeError, ValueError):
    """The desired state cannot be used. Carries every problem found, not just the first."""

    exit_code = Exit.INVALID

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        n = len(self.problems)
        super().__init__(
            f"{n} problem{'s' if n != 1 else ''}{where}",
            hint="Fix the fields listed above; nothing on the box was changed.",
        )


class UsageError(TightropeError):
    exit_code = Exit.USAGE


class BackendUnavailable(TightropeError, ConnectionError):
    """NetworkManager's D-Bus API (or the box carrying it) cannot be reached."""

    exit_code = Exit.NM_UNREACHABLE
    hint = "Is NetworkManager running (systemctl status NetworkManager) and is D-Bus reachable?"


class NotRoot(TightropeError, PermissionError):
    exit_code = Exit.NOT_ROOT
    hint = "Run it as root on the box (sudo tightrope ...), or from your laptop with --host."


class Busy(TightropeError):
    exit_code = Exit.BUSY


class LabError(TightropeError):
    exit_code = Exit.LAB
    hint = (
        "See `tightrope lab --help`; the lab needs root, QEMU"
        " and mmdebstrap (scripts/install-deps)."
    )


class NotImplementedYet(TightropeError):
    exit_code = Exit.FAILED
    hint = "This command is planned but not built yet; see the project's issues."


# What a finished change means for the exit code, whoever reports it (box, journey, fleet).
_OUTCOME_EXIT = {
    "committed": Exit.OK,
    "no-change": Exit.OK,
    "rolled-back": Exit.FAILED,
    "failed": Exit.FAILED,
    "aborted": Exit.FAILED,
    "declined": Exit.FAILED,
    "skipped": Exit.FAILED,
    "unknown": Exit.NM_UNREACHABLE,
}

# A fleet's summary exit code is its worst host's, in this order (best first): a change that
# ran and rolled back is worse than one refused before anything changed, and a box whose
# state nobody could learn is the worst of all.
SEVERITY = (Exit.OK, Exit.CHANGES, Exit.USAGE, Exit.INVALID, Exit.PLAN_CHANGED, Exit.BUSY,
            Exit.NOT_ROOT, Exit.BOX_UNSUPPORTED, Exit.SSH_AUTH, Exit.HOST_KEY, Exit.LAB,
            Exit.FAILED, Exit.INTERRUPTED, Exit.NM_UNREACHABLE)  # fmt: skip


def exit_for_outcome(outcome: str) -> Exit:
    return _OUTCOME_EXIT.get(outcome, Exit.FAILED)


def worst(codes: list[int]) -> int:
    rank = {int(c): i for i, c in enumerate(SEVERITY)}
    return max(codes, key=lambda c: rank.get(c, rank[int(Exit.FAILED)]), default=int(Exit.OK))
