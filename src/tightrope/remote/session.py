"""One agent process on the box per SSH connection, spoken to in JSON lines (tightrope.proto).

The laptop writes a request line and reads lines until the answer: events (phase changes while
the box waits) go to a callback, an error answer becomes the matching TightropeError, and a
process that ends without answering is classified from ssh's own words.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from tightrope import __version__, proto
from tightrope.core.printable import printable
from tightrope.errors import ConfigError, Exit, Problem, TightropeError
from tightrope.remote.sshfail import classify

M = TypeVar("M", bound=proto.Message)
OnEvent = Callable[[proto.Event], None]


class Channel(Protocol):
    """What the journey needs of a conversation with the box (a stand-in in unit tests)."""

    def call(self, request: proto.Message, expect: type[M], *, timeout: float = 180,
             on_event: OnEvent | None = None) -> M: ...  # fmt: skip

    def close(self) -> None: ...

    # Let go at once, without waiting for the other end (its address is going away).
    def abandon(self) -> None: ...


def clean(text: str) -> str:
    """A string from the box, fit to print: no escape sequences or control characters (the
    one rule the terminal's rendering applies too, core.printable)."""
    return printable(text)


def refused(answer: proto.ErrorAnswer) -> TightropeError:
    """The box's error answer as the error the laptop raises (exit code checked, not trusted)."""
    if answer.problems:
        problems = [Problem(clean(p.get("field", "")), clean(p.get("message", "")),
                            clean(p.get("fix", ""))) for p in answer.problems]  # fmt: skip
        return ConfigError(problems, "the box's check")
    err = TightropeError(clean(answer.message) or "the box refused", clean(answer.hint))
    known = {int(e) for e in Exit}
    err.exit_code = Exit(answer.exit_code) if answer.exit_code in known else Exit.FAILED
    return err


def interpret(line: bytes, expect: type[M], where: str, on_event: OnEvent | None) -> M | None:
    """One line from the box: the answer (returned), an event (told, None returned) or an
    error answer (raised as the laptop's error)."""
    try:
        answer = proto.decode(line, expect, proto.Event)
    except proto.ProtocolError as exc:
        raise TightropeError(
            f"{where} answered outside tightrope's protocol: {exc}",
            hint="The box runs another tightrope, or something prints on its login: "
            "run the command again (it refreshes the box's copy).") from None
    if isinstance(answer, proto.Event):
        if on_event is not None:
            on_event(answer)
        return None
    if isinstance(answer, proto.ErrorAnswer):
        raise refused(answer)
    assert isinstance(answer, expect)
    return answer


class AgentSession:
    def __init__(self, argv: list[str], prefix: bytes, where: str) -> None:
        self.where = where
        logging.getLogger("tightrope").info("ssh (agent session): %s", shlex.join(argv))
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE)  # fmt: skip
        self._err = bytearray()
        self._buf = b""
        threading.Thread(target=self._drain, daemon=True).start()
        assert self._proc.stdin is not None
        if prefix:  # sudo's password: the first line sudo -S reads, before any request
            self._write(prefix)

    def _drain(self) -> None:
        stderr = self._proc.stderr
        assert stderr is not None
        for chunk in iter(lambda: os.read(stderr.fileno(), 4096), b""):
            if len(self._err) < 65536:
                self._err += chunk

    def _write(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the process ended; reading says why

    def _readline(self, timeout: float) -> bytes | None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TightropeError(f"{self.where} did not answer within {timeout:.0f} s",
                                         hint="The SSH connection may have stalled; run the "
                                         "command again.")  # fmt: skip
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buf += chunk
                if len(self._buf) > proto.MAX_LINE:
                    raise TightropeError(f"{self.where} sent an over-long answer")
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def _ended(self) -> TightropeError:
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        time.sleep(0.05)  # let the stderr reader take ssh's last words
        return classify(code, bytes(self._err), self.where)

    def opening(self, not_ready: bytes, timeout: float = 120) -> bool:
        """The first exchange, a hello; False (and the session closed) if the box printed
        `not_ready` instead of starting the agent. A session that failed otherwise (ssh could
        not connect) raises as any call would."""
        self._write(proto.encode(proto.Hello(version=__version__)))
        line = self._readline(timeout)
        if line is None:
            raise self._ended()
        if line.strip() == not_ready:
            self.close()
            return False
        interpret(line, proto.HelloAnswer, self.where, None)
        return True

    def call(self, request: proto.Message, expect: type[M], *, timeout: float = 180,
             on_event: OnEvent | None = None) -> M:  # fmt: skip
        self._write(proto.encode(request))
        while True:
            line = self._readline(timeout)
            if line is None:
                raise self._ended()
            answer = interpret(line, expect, self.where, on_event)
            if answer is not None:
                return answer

    def abandon(self) -> None:
        self.close(grace=0.0)

    def close(self, grace: float = 2.0) -> None:
        """End the conversation: the agent exits at end of input. A session whose address just
        went away (the box moved) would hold ssh for ServerAlive's 6 s; after `grace` it is
        killed instead, which the agent on the box sees as end of input too."""
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
