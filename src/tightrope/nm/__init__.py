"""The only package that imports the D-Bus library: NetworkManager adapter.

Synchronous functions over NetworkManager's D-Bus API (each opens its own connection to the
system bus, or to `bus_address`), plus pure translators between NetworkManager's settings
and the JSON-typed dicts that tightrope.core.snapshot describes.
"""

from tightrope.nm.bus import CheckpointConflict, NMError, NMPermissionDenied
from tightrope.nm.normalise import normalise_settings, unwrap
from tightrope.nm.reader import read_snapshot
from tightrope.nm.to_dbus import settings_to_dbus

__all__ = [
    "CheckpointConflict",
    "NMError",
    "NMPermissionDenied",
    "normalise_settings",
    "read_snapshot",
    "settings_to_dbus",
    "unwrap",
]
