"""NetworkManager's D-Bus errors as tightrope's (lean.py answers with them)."""

from __future__ import annotations

from tightrope.errors import BackendUnavailable, TightropeError
from tightrope.nm import constants as c

UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"  # NetworkManager 1.42's word for it
# Objects a running NetworkManager always exports (a device or a checkpoint may really be gone).
_ALWAYS_THERE = frozenset({c.NM_PATH, c.SETTINGS_PATH})
# The daemon is absent (not started, crashed, or restarting): the message bus answers for it.
_NOT_RUNNING = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",
)


class NMError(TightropeError):
    """NetworkManager refused or failed a request. `name` is the D-Bus error name, e.g.
    org.freedesktop.NetworkManager.Settings.Connection.InvalidProperty."""

    def __init__(self, message: str, name: str = "", hint: str = "") -> None:
        super().__init__(message, hint)
        self.name = name


class CheckpointConflict(NMError):
    """CheckpointCreate refused: a device is already in another checkpoint (`existing`),
    e.g. one left behind by a crashed run."""

    def __init__(self, message: str, name: str, existing: str) -> None:
        super().__init__(message, name, hint="Roll back or destroy that checkpoint first.")
        self.existing = existing


class NMPermissionDenied(NMError, PermissionError):
    hint = "NetworkManager (polkit) refused this to the calling user; run it as root."


def what_of(interface: str, member: str) -> str:
    """How messages name a call: Connection.GetSettings, not its whole interface."""
    return f"{interface.rsplit('.', 1)[-1]}.{member}"


def error_text(body: list[object]) -> str:
    return str(body[0]) if body and isinstance(body[0], str) else ""


def reply_error(path: str, what: str, name: str, text: str) -> TightropeError:
    """The error for a call to `path` answered with the D-Bus error `name`."""
    if path in _ALWAYS_THERE and (name == UNKNOWN_OBJECT or (
            name == UNKNOWN_METHOD and "does not exist" in text)):  # fmt: skip
        # The daemon holds its bus name but has not exported (or has already dropped) its
        # manager: it is starting or stopping. Measured in the lab: a restart while a change
        # awaited confirmation failed the change and every rollback step with this, and the
        # box kept the unconfirmed bond.
        return BackendUnavailable(f"NetworkManager is starting or stopping ({what}).")
    return error_from(what, name, text)


def error_from(what: str, name: str, text: str) -> TightropeError:
    if name in _NOT_RUNNING:
        return BackendUnavailable(f"NetworkManager is not running on the system bus ({what}).")
    if name.endswith(".PermissionDenied") or name == "org.freedesktop.DBus.Error.AccessDenied":
        return NMPermissionDenied(f"{what}: permission denied: {text}", name)
    if what.endswith("CheckpointCreate") and "already included in checkpoint" in text:
        return CheckpointConflict(f"{what} failed: {text}", name, text.rsplit(" ", 1)[-1])
    return NMError(f"{what} failed: {text or name}", name)
