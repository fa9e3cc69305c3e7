"""The only package that speaks D-Bus (its own client, lean.py): NetworkManager adapter.

Synchronous functions over NetworkManager's D-Bus API (each opens its own connection to the
system bus, or to `bus_address`), plus pure translators between NetworkManager's settings
and the JSON-typed dicts that tightrope.core.snapshot describes.

The names below are loaded when first used (PEP 562): `tightrope status` only reads, and on
a small box every module it need not import is felt.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tightrope.nm.errors import CheckpointConflict, NMError, NMPermissionDenied
    from tightrope.nm.normalise import normalise_settings, unwrap
    from tightrope.nm.reader import read_snapshot
    from tightrope.nm.to_dbus import settings_to_dbus

_HOME = {
    "CheckpointConflict": "tightrope.nm.errors",
    "NMError": "tightrope.nm.errors",
    "NMPermissionDenied": "tightrope.nm.errors",
    "normalise_settings": "tightrope.nm.normalise",
    "unwrap": "tightrope.nm.normalise",
    "read_snapshot": "tightrope.nm.reader",
    "settings_to_dbus": "tightrope.nm.to_dbus",
}

__all__ = [
    "CheckpointConflict",
    "NMError",
    "NMPermissionDenied",
    "normalise_settings",
    "read_snapshot",
    "settings_to_dbus",
    "unwrap",
]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
