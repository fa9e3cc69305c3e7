"""Text tables and ANSI styling without rich, for output that must start fast.

`tightrope status` answers on a Raspberry Pi at `nmcli device status` speed only without
rich: importing rich's console and table alone costs such a box half a second.

Cells are plain text (made printable by the caller), so the only escape sequences in the
output are the ones `Style` adds, and every width here counts terminal columns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

GAP = "  "


class Style:
    """ANSI styling, or none: every method returns its text unchanged when off."""

    __slots__ = ("on",)

    def __init__(self, on: bool) -> None:
        self.on = on

    @classmethod
    def detect(cls, stream: TextIO, environ: Mapping[str, str] | None = None) -> Style:
        """On for a terminal only: a log file, a pipe or CI gets no escape sequences, nor
        does anyone who asked for none (https://no-color.org: NO_COLOR set and not empty)
        or whose terminal cannot draw them."""
        env = os.environ if environ is None else environ
        isatty = getattr(stream, "isatty", None)
        try:
            tty = bool(isatty()) if isatty is not None else False
        except ValueError:  # a closed stream
            tty = False
        return cls(tty and not env.get("NO_COLOR") and env.get("TERM") != "dumb")

    def _sgr(self, codes: str, text: str) -> str:
        # Nothing around an empty text: a blank cell stays blank, and lines end without codes.
        return f"\x1b[{codes}m{text}\x1b[0m" if self.on and text else text

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def red(self, text: str) -> str:
        return self._sgr("31", text)

    def green(self, text: str) -> str:
        return self._sgr("32", text)

    def yellow(self, text: str) -> str:
        return self._sgr("33", text)

    def bold_red(self, text: str) -> str:
        return self._sgr("1;31", text)

    def bold_green(self, text: str) -> str:
        return self._sgr("1;32", text)

    def bold_yellow(self, text: str) -> str:
        return self._sgr("1;33", text)


class Painted:
    """A cell drawn in a style. Laid out as its plain text, then painted piece by piece, so
    widths never count escape sequences and a folded value keeps its style on every line."""

    __slots__ = ("paint", "text")

    def __init__(self, text: str, paint: Callable[[str], str]) -> None:
        self.text = text
        self.paint = paint


Cell = str | Painted


def _char_cells(ch: str) -> int:
    import unicodedata

    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cells(text: str) -> int:
    """Columns `text` takes on a terminal: a CJK character or an emoji (an SSID may hold
    them) takes two, a combining accent none."""
    return len(text) if text.isascii() else sum(_char_cells(ch) for ch in text)


def fold(text: str, width: int) -> list[str]:
    """`text` in pieces of at most `width` columns (not counting a space a piece ends with),
    joined back exactly by "".join: broken after a space when one fits, else between
    characters; never cut."""
    pieces: list[str] = []
    while cells(text) > width:
        used, end = 0, 0
        for ch in text:
            w = _char_cells(ch) if not ch.isascii() else 1
            if used + w > width:
                break
            used, end = used + w, end + 1
        end = max(end, 1)  # a wide character in a one-column cell still moves on
        # A space just past the width ends this piece too: the next one never starts blank.
        space = text.rfind(" ", 0, end + 1)
        cut = space + 1 if space > 0 else end
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _widths(natural: list[int], floors: list[int], width: int | None) -> list[int]:
    """Column widths that fit `width`: the widest columns give up a column at a time (so
    short columns such as a link state stay whole), none below its floor."""
    widths = list(natural)
    if width is None:
        return widths
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    while excess > 0:
        foldable = [k for k in range(len(widths)) if widths[k] > floors[k]]
        if not foldable:
            break  # as narrow as it goes: the terminal wraps the rest
        widths[max(foldable, key=widths.__getitem__)] -= 1
        excess -= 1
    return widths


# Short values (an interface name, "active") stay whole however narrow the terminal.
MIN_FOLD = 6


def _column_width(header: str, values: Sequence[str]) -> tuple[int, int]:
    """The column's natural width, and the narrowest it folds to: a header folds at its
    spaces at most ("active profile" over two lines), never inside a word."""
    natural = max(cells(line) for text in (header, *values) for line in text.split("\n"))
    return natural, min(natural, max([MIN_FOLD, *(cells(word) for word in header.split())]))


def _block(row: Sequence[str], paints: Sequence[Callable[[str], str] | None],
           widths: Sequence[int]) -> list[str]:  # fmt: skip
    """The lines of one row: each cell's lines folded to its column, side by side."""
    columns = [[piece for line in text.split("\n") for piece in fold(line, w)]
               for text, w in zip(row, widths, strict=True)]  # fmt: skip
    out = []
    for n in range(max(len(c) for c in columns)):
        parts = []
        for col, w, paint in zip(columns, widths, paints, strict=True):
            # The space a value folded after is no part of what shows.
            piece = col[n].rstrip(" ") if n < len(col) else ""
            parts.append((paint(piece) if paint else piece) + " " * (w - cells(piece)))
        out.append(GAP.join(parts).rstrip())
    return out


def table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], *, width: int | None,
          title: str | None = None, style: Style) -> list[str]:  # fmt: skip
    """Lines of a table: columns two spaces apart, a header row (bold when styled), a cell's
    lines ("\\n") one under the other. With `width` (a terminal's) the widest columns fold to
    fit it; `width=None` (a pipe, a file, CI) keeps every value on its line, whole."""
    texts = [[c.text if isinstance(c, Painted) else c for c in row] for row in rows]
    paints = [[c.paint if isinstance(c, Painted) else None for c in row] for row in rows]
    sizes = [_column_width(h, [row[i] for row in texts]) for i, h in enumerate(headers)]
    widths = _widths([n for n, _ in sizes], [f for _, f in sizes], width)
    lines = [style.bold(title)] if title else []
    lines += _block(headers, [style.bold] * len(headers), widths)
    for row, row_paints in zip(texts, paints, strict=True):
        lines += _block(row, row_paints, widths)
    return lines
