"""`tightrope status` printed without rich: plain tables that fold on a terminal and never
cut, styling only on a terminal, and a box's values shown literally and harmlessly."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap

import pytest

from tightrope.cli import render
from tightrope.cli.plain import Painted, Style, cells, fold, table
from tightrope.cli.safe import plain, plain_lines
from tightrope.core.status import BondStatus, DeviceStatus, PortStatus, StatusReport

OFF = Style(False)
# What tests/unit/test_render_hostile.py throws at the renderers: a screen clear, markup, a
# carriage return, a bell, a window-title OSC, a right-to-left override, a C1 CSI, a tab.
HOSTILE = "A\x1b[2JB[bold]x[/]C\rD\x07E\x1b]0;pwned\x07F\u202eG[/]H\x9b31mI\tJ"
SHOWN = "AB[bold]x[/]C DEFG[/]HI J"
SGR = re.compile(r"\x1b\[[0-9;]*m")
LONG = "x" * 500


def _report(value: str = "eth0", *, claimed: tuple[str, ...] = ("eth0 (netplan, run)",),
            host: str = "box") -> StatusReport:  # fmt: skip
    port = PortStatus(value, "wifi", "up", "up", None, value, 70, value, value, 0, True)
    bond = BondStatus(value, "activated", value, "active-backup", "up", 100, value, value,
                      "active", (port,), (value, value), value, (value,))  # fmt: skip
    dev = DeviceStatus(value, "wifi", "activated", True, (value, value), claimed, value)
    return StatusReport(host, "1.42.4", "keyfile", (bond,), (dev,), 0)


def _column(lines: list[str], header: str) -> list[str]:
    """The pieces printed in one column (the last one) under its header."""
    start = lines[0].index(header)
    return [line[start:] for line in lines[1:]]


# --- the layout ------------------------------------------------------------------------


def test_columns_are_two_spaces_apart_with_no_trailing_spaces() -> None:
    lines = table(("device", "type", "note"), [("eth0", "ethernet", ""), ("wlan0", "wifi", "")],
                  width=None, style=OFF)  # fmt: skip
    assert lines == ["device  type      note", "eth0    ethernet", "wlan0   wifi"]


def test_a_multi_line_cell_stacks_its_values_in_its_column() -> None:
    rows = [("bond0", "198.18.1.64/24\nfe80::1/64", "bond0"), ("eth0", "", "bond0-eth0")]
    lines = table(("device", "addresses", "profile"), rows, width=None, style=OFF)
    assert lines == [
        "device  addresses       profile",
        "bond0   198.18.1.64/24  bond0",
        "        fe80::1/64",
        "eth0                    bond0-eth0",
    ]


def test_a_title_heads_the_table() -> None:
    assert table(("a",), [("1",)], width=None, title="devices", style=OFF)[0] == "devices"


def test_wide_characters_keep_the_columns_aligned() -> None:
    assert cells("東京 📶") == 7 and cells("Café") == 4 and cells("e\u0301") == 1
    lines = table(("ssid", "signal"), [("東京", "90"), ("lab", "70")], width=None, style=OFF)
    assert [cells(line[: line.index(n)]) for line, n in zip(lines[1:], ("90", "70"), strict=True)
            ] == [6, 6]  # fmt: skip


@pytest.mark.parametrize("text", [
    "netplan-wlan0-TightropeLab (netplan, run)",
    "fe80::68b9:2b00:3b65:4a8b/64",
    "a  b   c",
    "東京東京 📶 Café",
    LONG,
])  # fmt: skip
@pytest.mark.parametrize("width", [1, 2, 3, 7, 20, 80])
def test_fold_never_loses_a_character(text: str, width: int) -> None:
    pieces = fold(text, width)
    assert "".join(pieces) == text
    # Each fits, but for a space it ends with (not shown) or a wide character alone.
    assert all(cells(p.rstrip(" ")) <= max(width, 2) for p in pieces), pieces
    assert all(p for p in pieces[:-1])


def test_fold_breaks_after_a_space_when_one_fits() -> None:
    assert fold("bond0-wlan0 (other, etc)", 14) == ["bond0-wlan0 ", "(other, etc)"]
    assert fold("perm MAC", 4) == ["perm ", "MAC"]  # the next piece never starts blank


def test_folding_to_a_narrow_terminal_keeps_every_character() -> None:
    claimed = "netplan-wlan0-TightropeLab (netplan, run), and " + "y" * 120
    rows = [("wlan0", "wifi", claimed), ("eth0", "ethernet", "short")]
    lines = table(("device", "type", "claimed by"), rows, width=40, style=OFF)
    assert max(cells(line) for line in lines) <= 40
    assert all(line == line.rstrip() for line in lines)
    pieces = _column(lines, "claimed by")
    assert "".join(pieces).replace(" ", "") == (claimed + "short").replace(" ", "")
    # Only the widest column folded: the short ones are whole, on their rows' first line.
    assert lines[1].startswith("wlan0   wifi") and "eth0    ethernet" in "\n".join(lines)
    assert "…" not in "".join(lines)


def test_off_a_terminal_a_500_character_value_is_never_wrapped() -> None:
    lines = table(("device", "claimed by"), [("eth0", LONG)], width=None, style=OFF)
    assert len(lines) == 2 and lines[1].endswith(LONG)


def test_status_off_a_terminal_prints_every_value_whole(capsys: pytest.CaptureFixture[str],
                                                        ) -> None:  # fmt: skip
    render.status(_report(LONG, claimed=(LONG,), host=LONG), as_json=False)
    out = capsys.readouterr().out
    assert out.count(LONG) >= 12 and "…" not in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_status_on_an_80_column_terminal_folds_its_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = "netplan-wlan0-TightropeLab"
    render.status(_report(value), as_json=False, width=80, style=OFF)
    lines = capsys.readouterr().out.splitlines()
    devices = lines[lines.index("devices") + 1 :]
    ports = [line for line in lines if line.startswith("  ")][1:]  # after the addresses line
    assert ports[0].split() == ["port", "type", "link", "speed", "Wi-Fi", "perm", "MAC", "MAC",
                                "failures"]  # fmt: skip
    for tab in (devices, ports):
        assert max(cells(line) for line in tab) <= 80
        assert len(tab) > 2  # folded: the values take more lines than their rows
    # The device's name, folded in its column, is whole once its pieces are joined.
    assert "".join(line[:16].strip() for line in devices[1:3]) == value
    assert "…" not in "".join(lines)


# --- styling ---------------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream, environ, on", [
    (io.StringIO(), {}, False),  # a pipe, a file, CI
    (_Tty(), {"TERM": "xterm"}, True),
    (_Tty(), {"TERM": "xterm", "NO_COLOR": "1"}, False),
    (_Tty(), {"TERM": "xterm", "NO_COLOR": ""}, True),  # no-color.org: empty is unset
    (_Tty(), {"TERM": "dumb"}, False),
])  # fmt: skip
def test_styling_only_on_a_terminal_that_wants_it(stream: io.StringIO, environ: dict[str, str],
                                                  on: bool) -> None:  # fmt: skip
    style = Style.detect(stream, environ)
    assert style.on is on
    assert (style.bold("x") != "x") is on and style.red("") == ""


def test_styling_off_prints_no_escape_sequence(capsys: pytest.CaptureFixture[str]) -> None:
    render.status(_report(), as_json=False)  # capsys's stdout is no terminal
    assert "\x1b" not in capsys.readouterr().out


def test_a_painted_cell_is_measured_without_its_codes() -> None:
    on = Style(True)
    lines = table(("port", "", "x"), [("eth0", Painted("active", on.bold_green), "1"),
                                      ("wlan0", Painted("", on.bold_green), "2")],
                  width=None, style=on)  # fmt: skip
    shown = [SGR.sub("", line) for line in lines]
    assert shown == ["port           x", "eth0   active  1", "wlan0          2"]
    assert "\x1b[1;32mactive\x1b[0m" in lines[1] and "\x1b" not in lines[2]


# --- what the box says -----------------------------------------------------------------


def test_plain_makes_printable_and_escapes_nothing() -> None:
    assert plain(HOSTILE) == SHOWN
    assert plain(None) == "" and plain(42) == "42"
    assert plain_lines(("a\nb", "[bold]x[/]")) == "a b\n[bold]x[/]"  # a value never adds a line
    assert plain_lines("one") == "one"


@pytest.mark.parametrize("style", [OFF, Style(True)])
@pytest.mark.parametrize("width", [None, 200, 30])
def test_hostile_values_print_literally_and_harmlessly(capsys: pytest.CaptureFixture[str],
                                                       style: Style, width: int | None,
                                                       ) -> None:  # fmt: skip
    render.status(_report(HOSTILE, claimed=(HOSTILE, "a\nb")), as_json=False, width=width,
                  style=style)  # fmt: skip
    out = SGR.sub("", capsys.readouterr().out)  # what styling added, if on
    for bad in ("\x1b", "\x07", "\r", "\u202e", "\x9b", "pwned"):
        assert bad not in out, repr(bad)
    assert "[bold]x[/]" in out or width == 30  # folded at 30, but never read as markup
    if width is None:
        assert out.count(SHOWN) >= 12
    # A newline inside a value does not forge a line of its own.
    assert "\nb\n" not in out and "\nb " not in out


def test_status_does_not_import_rich() -> None:
    """On a Pi, rich's console and table cost half a second: status must not pay it."""
    code = textwrap.dedent(f"""
        import sys
        from tightrope.cli import render
        from tightrope.core.status import (BondStatus, DeviceStatus, PendingTxn, PortStatus,
                                           StatusReport)
        H = {HOSTILE!r}
        port = PortStatus(H, "wifi", "up", "up", None, H, 70, H, H, 0, True)
        bond = BondStatus(H, "activated", H, "active-backup", "up", 100, H, H, "active",
                          (port,), (H,), H, (H,))
        dev = DeviceStatus(H, "wifi", "activated", True, (H,), (H,), H)
        report = StatusReport(H, H, "keyfile", (bond,), (dev,), 0,
                              pending=PendingTxn("20260101-000000-abcd", "apply", H, 30, H))
        render.status(report, as_json=False)
        print(" ".join(sorted(sys.modules)), file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    loaded = set(done.stderr.split())
    assert "tightrope.cli.render" in loaded and "tightrope.cli.plain" in loaded
    assert {m for m in loaded if m == "rich" or m.startswith("rich.")} == set()
    assert done.stdout.count(SHOWN) >= 12
