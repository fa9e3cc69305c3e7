"""One way for any string that came from the box or the user to reach the terminal: safe()
for what rich prints (markup escaped), plain() for what is printed without rich."""

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


def plain(value: object) -> str:
    """`value` as text for output printed without rich (no markup language, so nothing to
    escape): no control characters or escape sequences, as for safe()."""
    return printable("" if value is None else str(value))


def plain_lines(values: object) -> str:
    """Several values, one per line of a plain table cell, each made printable."""
    if isinstance(values, (list, tuple)):
        return "\n".join(plain(v) for v in values)
    return plain(values)
