"""Progress on every wait: phase, elapsed time and the rollback deadline counting down, live
on a terminal, a line every few seconds otherwise (issue 14 item 3), on an injected clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tightrope import proto
from tightrope.cli import render_txn
from tightrope.cli.progress import Countdown, line
from tightrope.remote.journey import Until

TXN = "20260101-000000-abcd"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_line_says_phase_elapsed_and_deadline() -> None:
    assert line("verifying the bond", 12.4, 47.6) == "verifying the bond: 12 s, rollback in 48 s"
    assert line("activating", 3, None) == "activating: 3 s"
    assert line("asking", 1, 9, until=Until.GIVING_UP) == "asking: 1 s, giving up in 9 s"
    assert line("late", 99, -3) == "late: 99 s, rollback in 0 s"  # never a negative countdown
    assert line("\x1b[2Jx", 0, None) == "x: 0 s"  # the box's words, printable


def test_off_a_terminal_one_line_every_five_seconds_and_at_each_phase() -> None:
    clock, out = Clock(), list[str]()
    c = Countdown(out.append, live=False, clock=clock)
    for _ in range(12):  # 12 updates, 1 s apart
        c.update("verifying the bond", 60 - (clock.t - 100))
        clock.t += 1
    c.update("waiting for `tightrope confirm`", 120)  # a new phase shows at once
    c.clear()  # nothing to erase off a terminal
    assert out == [
        "verifying the bond: 0 s, rollback in 60 s\n",
        "verifying the bond: 5 s, rollback in 55 s\n",
        "verifying the bond: 10 s, rollback in 50 s\n",
        "waiting for `tightrope confirm`: 12 s, rollback in 120 s\n",
    ]


def test_on_a_terminal_one_live_line_redrawn_each_update_then_erased() -> None:
    clock, out = Clock(), list[str]()
    c = Countdown(out.append, live=True, clock=clock)
    c.update("waiting for 198.18.1.64 to answer", 200)
    clock.t += 1
    c.update("waiting for 198.18.1.64 to answer", 199)
    c.clear()
    c.clear()  # once erased, nothing more to erase
    assert out == ["\r\x1b[Kwaiting for 198.18.1.64 to answer: 0 s, rollback in 200 s",
                   "\r\x1b[Kwaiting for 198.18.1.64 to answer: 1 s, rollback in 199 s",
                   "\r\x1b[K"]  # fmt: skip
    assert not any("\n" in o for o in out)


def _views() -> list[proto.TxnView]:
    """A local apply as `app.follow` yields it, one view per 0.5 s: 4 s verifying, 8 s awaiting
    confirmation, then committed."""
    out = []
    for i in range(25):
        phase = "verifying" if i < 8 else "awaiting-confirm"
        left = None if i < 8 else 120.0 - (i - 8) * 0.5
        out.append(proto.TxnView(id=TXN, phase=phase, deadline_in_s=left,
                                 reconnect_at="198.18.1.64"))  # fmt: skip
    out.append(proto.TxnView(id=TXN, phase="committed", outcome="committed"))
    return out


def _ticking(views: list[proto.TxnView], clock: Clock) -> Iterator[proto.TxnView]:
    for v in views:
        yield v
        clock.t += 0.5


def test_local_apply_counts_down_while_it_waits(capsys: pytest.CaptureFixture[str]) -> None:
    clock, lines = Clock(), list[str]()
    c = Countdown(lines.append, live=False, clock=clock)
    render_txn.follow(_ticking(_views(), clock), as_json=False, countdown=c)
    assert lines == [
        "verifying the bond: 0 s\n",
        "waiting for `tightrope confirm`: 4 s, rollback in 120 s\n",
        "waiting for `tightrope confirm`: 9 s, rollback in 115 s\n",
    ]
    out = capsys.readouterr().out
    assert "within 120 s" in out and "committed" in out


def test_local_apply_live_line_is_erased_before_the_outcome(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock, lines = Clock(), list[str]()
    c = Countdown(lines.append, live=True, clock=clock)
    render_txn.follow(_ticking(_views(), clock), as_json=False, countdown=c)
    assert len(lines) > 25 and lines[-1] == "\r\x1b[K"
    assert lines[-2].endswith("rollback in 112 s")


def test_json_has_no_countdown(capsys: pytest.CaptureFixture[str]) -> None:
    clock, lines = Clock(), list[str]()
    c = Countdown(lines.append, live=False, clock=clock)
    render_txn.follow(_ticking(_views(), clock), as_json=True, countdown=c)
    assert lines == []


def test_the_live_line_never_wraps_on_a_narrow_terminal() -> None:
    out: list[str] = []
    c = Countdown(out.append, live=True, clock=Clock(), columns=lambda: 30)
    c.update("waiting for 198.18.1.64 to answer", 200)
    assert out == ["\r\x1b[Kwaiting for 198.18.1.64 to an"]  # 29 columns: the cursor stays


def test_one_box_on_a_terminal_the_live_line_stands_in_for_waiting_events(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock, live = Clock(), list[str]()
    screen = render_txn.JourneyScreen(False, Countdown(live.append, live=True, clock=clock), 1)
    screen.event("root@198.18.1.50", "started", "transaction running")
    screen.tick("waiting for 198.18.1.64 to answer", 100, Until.ROLLBACK)
    screen.event("root@198.18.1.50", "waiting", "waiting for 198.18.1.64: 5 s so far")
    clock.t += 1
    screen.tick("waiting for 198.18.1.64 to answer", 99, Until.ROLLBACK)
    screen.event("root@198.18.1.50", "reached", "198.18.1.64 answers")
    screen.done()
    printed = capsys.readouterr().out
    assert "started" in printed and "reached" in printed and "waiting" not in printed
    assert live == ["\r\x1b[Kwaiting for 198.18.1.64 to answer: 0 s, rollback in 100 s",
                    "\r\x1b[Kwaiting for 198.18.1.64 to answer: 1 s, rollback in 99 s",
                    "\r\x1b[K"]  # erased before "reached" is printed  # fmt: skip


@pytest.mark.parametrize("as_json, live, boxes", [(False, False, 1), (True, True, 1),
                                                   (False, True, 3)])  # fmt: skip
def test_off_a_terminal_with_json_or_several_boxes_waiting_events_are_lines(
    capsys: pytest.CaptureFixture[str], as_json: bool, live: bool, boxes: int,
) -> None:
    drawn = list[str]()
    screen = render_txn.JourneyScreen(as_json, Countdown(drawn.append, live=live), boxes)
    screen.tick("waiting for 198.18.1.64 to answer", 100, Until.ROLLBACK)
    screen.event("root@198.18.1.50", "waiting", "the box rolls back by itself within 95 s")
    screen.done()
    assert drawn == []
    assert "rolls back by itself within 95 s" in capsys.readouterr().out


def test_confirm_on_the_box_counts_down_while_it_waits_for_the_end() -> None:
    """`tightrope confirm` sent while verification still runs waits (up to 90 s): the box tells
    its phase each few seconds, and that is drawn, not silence."""
    clock, lines = Clock(), list[str]()
    settling = render_txn.Settling("confirm", False, Countdown(lines.append, live=False,
                                                              clock=clock))  # fmt: skip
    for phase, left in (("verifying", None), ("verifying", None), ("awaiting-confirm", 100.0),
                        ("committing", None)):  # fmt: skip
        settling(proto.TxnView(id=TXN, phase=phase, deadline_in_s=left))
        clock.t += 5
    settling(proto.TxnView(id=TXN, phase="committed", outcome="committed"))
    settling.done()
    assert lines == ["confirm: verifying the bond: 0 s\n", "confirm: verifying the bond: 5 s\n",
                     "confirm: waiting for `tightrope confirm`: 10 s, rollback in 100 s\n",
                     "confirm: committing: 15 s\n"]  # fmt: skip


def test_confirm_with_json_draws_nothing() -> None:
    settling = render_txn.Settling("confirm", True)
    settling(proto.TxnView(id=TXN, phase="verifying"))
    settling.done()
    assert settling.countdown is None
