"""Text from the box or the user made fit for a terminal: no escape sequences, no control
characters, no bidirectional overrides.

Pure, so the laptop's rendering and the errors built from a box's answer strip the same way.
"""

from __future__ import annotations

import re

# Whole escape sequences go, not just their ESC: "\x1b[2J" must not leave "[2J" behind.
# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and two-byte escapes (ESC + one char).
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI as one C1 character
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (a title, a hyperlink)
    r"|\x1b.?",  # any other escape
    re.DOTALL,
)
# Characters that reorder or hide what follows them (the "Trojan Source" set) are invisible
# in Python's sense too, but are named here so the intent survives a change of rule below.
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# A line break or tab inside a value would forge a line of output ("\r" overwrites one).
_SPACES = frozenset("\t\n\r\v\f")


def printable(text: str) -> str:
    """`text` with escape sequences removed, breaks and tabs as spaces, and every other
    non-printable character (C0, DEL, C1, bidi and other format characters) removed."""
    text = _ESCAPES.sub("", text)
    return "".join(" " if ch in _SPACES else ch for ch in text
                   if ch in _SPACES or (ch.isprintable() and ch not in BIDI))  # fmt: skip
