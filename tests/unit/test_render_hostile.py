"""Every string that came from the box or the user reaches the terminal as text: markup
escaped, escape sequences and control characters stripped (issue 14 item 2)."""

from __future__ import annotations

import pytest

from tightrope import proto
from tightrope.cli import render, render_txn
from tightrope.cli.cmd_prove import watch_line
from tightrope.cli.safe import safe
from tightrope.core.printable import printable
from tightrope.core.status import (
    BondStatus,
    DeviceStatus,
    LastTxn,
    PendingTxn,
    PortStatus,
    StatusReport,
)
from tightrope.errors import TightropeError
from tightrope.remote.journey import JourneyResult, Outcome

# A screen clear, markup (valid and broken), a carriage return that would overwrite the line,
# a bell, a window-title OSC and a right-to-left override.
HOSTILE = "A\x1b[2JB[bold]x[/]C\rD\x07E\x1b]0;pwned\x07F\u202eG[/]H\x9b31mI\tJ"
# What must show instead: every visible character kept, in order, markup literal.
SHOWN = "AB[bold]x[/]C DEF" + "G[/]HI J"
TXN = "20260101-000000-abcd"


def _assert_clean(out: str) -> None:
    for bad in ("\x1b", "\x07", "\r", "\u202e", "\x9b", "pwned"):
        assert bad not in out, repr(bad)
    assert SHOWN in out, out


@pytest.mark.parametrize("text, want", [
    ("\x1b[2J", ""),
    ("[bold]x[/]", "[bold]x[/]"),
    ("a\rb", "a b"),
    ("bell\x07", "bell"),
    ("\u202eabc\u2066", "abc"),
    ("\x1b]8;;http://198.18.0.9/\x1b\\link", "link"),
    ("Café 東京 📶", "Café 東京 📶"),
])  # fmt: skip
def test_printable(text: str, want: str) -> None:
    assert printable(text) == want


def test_safe_escapes_markup_rich_would_read() -> None:
    from rich.text import Text

    # What rich renders from the escaped form, inside markup as the renderers use it, is the
    # original, literally (a trailing backslash does not escape the closing tag).
    text = "[bold]x[/] a[/]b \\"
    assert Text.from_markup(f"[bold]{safe(text)}[/]").plain == text


def _status() -> StatusReport:
    port = PortStatus(HOSTILE, "wifi", "up", "up", None, HOSTILE, 70, HOSTILE, HOSTILE, 0, True)
    bond = BondStatus(HOSTILE, "activated", HOSTILE, "active-backup", "up", 100, HOSTILE,
                      HOSTILE, "active", (port,), (HOSTILE,), HOSTILE, (HOSTILE,))  # fmt: skip
    dev = DeviceStatus(HOSTILE, "wifi", "activated", True, (HOSTILE,), (HOSTILE,), HOSTILE)
    return StatusReport(HOSTILE, HOSTILE, "keyfile", (bond,), (dev,), 0,
                        pending=PendingTxn(TXN, "apply", HOSTILE, 30, HOSTILE))  # fmt: skip


def test_status(capsys: pytest.CaptureFixture[str]) -> None:
    render.status(_status(), as_json=False)
    out = capsys.readouterr().out
    _assert_clean(out)
    assert out.count(SHOWN) >= 12  # every field of the report, not just some


def test_status_last_change(capsys: pytest.CaptureFixture[str]) -> None:
    report = StatusReport("box", "1.42", "keyfile", (), (), 0,
                          last=LastTxn(TXN, "apply", "rolled-back", HOSTILE, None))  # fmt: skip
    render.status(report, as_json=False)
    _assert_clean(capsys.readouterr().out)


def test_journey_result_and_events(capsys: pytest.CaptureFixture[str]) -> None:
    render_txn.journey_event(HOSTILE, "waiting", HOSTILE, as_json=False)
    result = JourneyResult(HOSTILE, HOSTILE, HOSTILE, Outcome.ROLLED_BACK, HOSTILE, TXN)
    render_txn.journey_summary([result], 1, as_json=False)
    out = capsys.readouterr().out
    _assert_clean(out)
    assert out.count(SHOWN) == 6


def _view() -> proto.TxnView:
    steps = (proto.Step(name=HOSTILE, status="ok", at=0.0, detail=HOSTILE),
             proto.Step(name="note", status="", at=0.0, detail=HOSTILE))  # fmt: skip
    return proto.TxnView(id=TXN, phase=HOSTILE, outcome="rolled-back", reason=HOSTILE,
                         reconnect_at=HOSTILE, steps=steps)  # fmt: skip


def test_log_history_and_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    render_txn.log(_view(), as_json=False)
    render_txn.history([_view()], as_json=False)
    render_txn.outcome(_view(), as_json=False)
    out = capsys.readouterr().out
    _assert_clean(out)
    assert out.count(SHOWN) == 8


def test_watch_events(capsys: pytest.CaptureFixture[str]) -> None:
    watch_line(proto.WatchEvent(source="nm", subject=HOSTILE, what=HOSTILE, at=0.0), False,
               host=HOSTILE)  # fmt: skip
    out = capsys.readouterr().out
    _assert_clean(out)
    assert out.count(SHOWN) == 3


def test_plan_from_the_box(capsys: pytest.CaptureFixture[str]) -> None:
    plan = {"bond": HOSTILE, "host": HOSTILE, "nm_version": HOSTILE, "no_change": False,
            "storage": {"summary": HOSTILE, "files": [{"action": "edit", "path": HOSTILE,
                                                       "detail": HOSTILE}]},
            "changes": [{"action": "add", "profile": HOSTILE, "interface": HOSTILE,
                         "details": [HOSTILE, HOSTILE]}],
            "warnings": [{"severity": "warning", "code": HOSTILE, "message": HOSTILE}],
            "reconnect_at": HOSTILE}  # fmt: skip
    render.plan_data(plan, as_json=False)
    out = capsys.readouterr().out
    _assert_clean(out)
    assert out.count(SHOWN) == 13


def test_errors_relayed_from_ssh(capsys: pytest.CaptureFixture[str]) -> None:
    render.error(TightropeError(f"ssh said: {HOSTILE}", hint=HOSTILE))
    err = capsys.readouterr().err
    _assert_clean(err)
    assert err.count(SHOWN) == 2


def test_json_keeps_the_value_exact(capsys: pytest.CaptureFixture[str]) -> None:
    # JSON escapes control characters itself; a script gets the box's value unaltered.
    import json

    render_txn.outcome(_view(), as_json=True)
    assert json.loads(capsys.readouterr().out)["reason"] == HOSTILE


PSK_REASON = "the access point 'TightropeLab' refused the PSK for wlan0; check the passphrase"


def _results() -> list[JourneyResult]:
    return [JourneyResult("root@198.18.1.50", "198.18.1.50", "198.18.1.64", Outcome.COMMITTED,
                          outage_s=4.2, seconds=83.2),
            JourneyResult("root@198.18.1.51", "198.18.1.51", "198.18.1.65",
                          Outcome.ROLLED_BACK, PSK_REASON, seconds=23.0)]  # fmt: skip


@pytest.mark.parametrize("width", [40, 80, 120, 200, 10_000])
def test_journey_summary_is_whole_at_any_width(capsys: pytest.CaptureFixture[str],
                                               width: int) -> None:  # fmt: skip
    """A table when it fits, else the same as key/value lines: never "rolled-b…"."""
    render_txn.journey_summary(_results(), 1, as_json=False, width=width)
    out = capsys.readouterr().out
    assert "…" not in out
    for value in ("root@198.18.1.50", "198.18.1.64", "198.18.1.65", "committed",
                  "rolled-back", "4.20 s", "83 s", "23 s"):  # fmt: skip
        assert out.count(value) == 1, (value, out)
    # The reason only wraps at word boundaries, so its words are all there, in order.
    assert " ".join(out.split()).count(PSK_REASON) == 1
    assert max(len(line.rstrip()) for line in out.splitlines()) <= max(width, len(PSK_REASON) + 13)
