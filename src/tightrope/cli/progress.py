"""Progress of a wait: what is awaited, how long it has taken, and how long until the box
rolls back by itself. Live on a terminal (one line redrawn in place), one line every few
seconds otherwise (a log file, `| tee`, CI), so no wait over two seconds is silent."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable

from tightrope.core.printable import printable
from tightrope.remote.journey import Until

EVERY_S = 5.0  # off a terminal: a line at least this often while the wait lasts
_ERASE = "\r\x1b[K"  # back to column 0, clear to the end of the line


def line(what: str, elapsed_s: float, left_s: float | None,
         until: Until = Until.ROLLBACK) -> str:  # fmt: skip
    """One progress line, plain text (`what` may come from the box: it is made printable)."""
    text = f"{printable(what)}: {elapsed_s:.0f} s"
    return text + (f", {until.value} {max(0.0, left_s):.0f} s" if left_s is not None else "")


def _unbounded() -> int:
    return 10_000


class Countdown:
    """One wait. `update` as often as there is news (every second or so); `clear` before
    printing anything else on a terminal, so the live line never mixes with other output.
    A state machine, not data: the clock, the writer and the width are injected."""

    def __init__(self, write: Callable[[str], None], live: bool,
                 clock: Callable[[], float] = time.monotonic, every_s: float = EVERY_S,
                 columns: Callable[[], int] = _unbounded) -> None:  # fmt: skip
        self.write, self.live, self.clock, self.every_s = write, live, clock, every_s
        # The terminal's width, asked at each redraw (it may be resized): a live line longer
        # than it would wrap, and "\r" would then redraw only its last row.
        self.columns = columns
        self.started = -1.0
        self._shown_at: float | None = None
        self._shown_what = ""
        self._drawn = False

    def update(self, what: str, left_s: float | None, until: Until = Until.ROLLBACK) -> None:
        now = self.clock()
        if self.started < 0:
            self.started = now
        text = line(what, now - self.started, left_s, until)
        if self.live:
            self.write(_ERASE + text[: max(1, self.columns() - 1)])
            self._drawn = True
        elif (what != self._shown_what or self._shown_at is None
              or now - self._shown_at >= self.every_s):  # fmt: skip
            self.write(text + "\n")
        else:
            return
        self._shown_at, self._shown_what = now, what

    def clear(self) -> None:
        if self._drawn:
            self.write(_ERASE)
            self._drawn = False


def for_stdout(clock: Callable[[], float] = time.monotonic) -> Countdown:
    """A countdown on stdout, live when stdout is a terminal."""

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def columns() -> int:
        return shutil.get_terminal_size().columns

    return Countdown(write, live=sys.stdout.isatty(), clock=clock, columns=columns)
