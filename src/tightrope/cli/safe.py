"""One way for any string that came from the box or the user to reach the terminal."""

from __future__ import annotations

from tightrope.core.printable import printable


def safe(value: object) -> str:
    """`value` as text that rich prints literally: no control characters or escape sequences
    (a box could clear the screen or forge a line) and no markup (an SSID `[bold]x[/]` or
    `a[/]b` would be styled, or raise rich's MarkupError)."""
    from rich.markup import escape

    return escape(printable("" if value is None else str(value)))


def safe_lines(values: object) -> str:
    """Several values, one per line of a table cell, each made safe."""
    return "\n".join(safe(v) for v in values) if isinstance(values, (list, tuple)) else safe(values)
