"""What went wrong with an SSH call, told from ssh's own words. Pure.

ssh exits 255 for its own failures and writes why on stderr; the remote command's failures
come back as its exit code. Each class keeps ssh's message and maps to the exit code the
README lists.
"""

from __future__ import annotations

import re

from tightrope.errors import Exit, TightropeError

SSH_FAILED = 255
NO_PYTHON = 127
PYTHON_TOO_OLD = 97  # the zipapp's own __main__ exits with this on Python < 3.10


class SshFailure(TightropeError):
    """A failure of the SSH transport or of the box's ability to run tightrope."""

    def __init__(self, message: str, hint: str, code: Exit, ssh_said: str = "") -> None:
        super().__init__(message + (f": {ssh_said}" if ssh_said else ""), hint)
        self.exit_code = code
        self.ssh_said = ssh_said


_HOST_KEY = re.compile(
    r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|"
    r"host key is known|Host key for .* has changed|No matching host key|"
    r"HOST KEY HAS CHANGED", re.I)  # fmt: skip
_AUTH = re.compile(r"Permission denied|Too many authentication failures|"
                   r"Authentication failed|no supported authentication", re.I)  # fmt: skip
_SUDO = re.compile(r"sudo: .*(password|terminal|not in the sudoers|may not run)", re.I)


def last_words(stderr: bytes | str, limit: int = 400) -> str:
    """ssh's message, without its warnings banner noise, printable and short."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("Warning: Permanently added", "@@@"))]
    said = " / ".join(lines)
    said = "".join(ch if ch.isprintable() else "?" for ch in said)
    return said if len(said) <= limit else said[: limit - 1] + "…"


def classify(returncode: int, stderr: bytes | str, where: str) -> SshFailure:
    """The failure of a call to `where` that exited `returncode` with `stderr`."""
    said = last_words(stderr)
    if returncode == SSH_FAILED or not returncode:
        if _HOST_KEY.search(said):
            return SshFailure(
                f"{where}'s host key is not the one you trust (unknown or changed)",
                "If the box was reinstalled, check its key and update ~/.ssh/known_hosts "
                "(ssh-keygen -R HOST); otherwise another machine may be answering there.",
                Exit.HOST_KEY, said)  # fmt: skip
        if _AUTH.search(said):
            return SshFailure(f"{where} refused the SSH login",
                              "Check the user and key: `ssh USER@HOST true` must work on its "
                              "own (BatchMode: no password prompts).", Exit.SSH_AUTH, said)
        return SshFailure(f"cannot reach {where} over SSH",
                          "Check the address, that the box is on, and that `ssh` to it works "
                          "on its own.", Exit.NM_UNREACHABLE, said or "no answer")  # fmt: skip
    if _SUDO.search(said):
        return SshFailure(f"sudo on {where} refused to run tightrope as root",
                          "Log in as root, or give this user sudo rights on the box.",
                          Exit.NOT_ROOT, said)  # fmt: skip
    if returncode == NO_PYTHON:
        return SshFailure(f"{where} has no python3",
                          "tightrope needs python3 3.10+ and NetworkManager on the box, "
                          "nothing else: e.g. apt install python3.", Exit.BOX_UNSUPPORTED, said)
    if returncode == PYTHON_TOO_OLD:
        return SshFailure(f"{where}'s python3 is too old",
                          "tightrope needs python3 3.10 or newer on the box.",
                          Exit.BOX_UNSUPPORTED, said)  # fmt: skip
    return SshFailure(f"tightrope on {where} ended without an answer (exit {returncode})",
                      "Run `tightrope log` on the box; please report this.", Exit.FAILED, said)
