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
