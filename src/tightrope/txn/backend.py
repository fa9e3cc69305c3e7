"""What the transaction needs from the box, as an interface.

tightrope.txn.nmbackend implements it over NetworkManager's D-Bus API and the box's own
tools; unit tests pass a small in-memory box instead (injected, never patched).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tightrope.core.failfast import DeviceEvent
from tightrope.core.snapshot import Snapshot
from tightrope.errors import TightropeError

Settings = Mapping[str, Mapping[str, Any]]


class DependencyNotReady(TightropeError):
    """activate() refused because what the profile depends on (a port's bond) is not ready
    yet; asking again shortly may succeed. `name` is the backend's own error name."""

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class DeviceEvents(Protocol):
    """NetworkManager's signals about some devices, queued from the moment of subscribing."""

    def drain(self) -> list[DeviceEvent]: ...  # what arrived since the last call; never blocks

    def close(self) -> None: ...


class Backend(Protocol):
    def snapshot(self, *, include_secrets: bool = False) -> Snapshot: ...

    def checkpoint_create(self, devices: Sequence[str], timeout_s: int) -> str: ...

    def checkpoint_adjust(self, checkpoint: str, timeout_s: int) -> None: ...

    def checkpoint_rollback(self, checkpoint: str) -> None: ...

    def checkpoint_destroy(self, checkpoint: str) -> None: ...

    def checkpoint_exists(self, checkpoint: str) -> bool: ...

    # block_autoconnect: NetworkManager must not start the profile by itself until it is
    # activated by hand (the profile's own autoconnect setting is kept, for the next boot).
    def add_profile(
        self, settings: Settings, *, to_disk: bool, block_autoconnect: bool = False
    ) -> str: ...

    def update_profile(
        self,
        uuid: str,
        settings: Settings | None,
        *,
        to_disk: bool,
        block_autoconnect: bool = False,
    ) -> None: ...

    def delete_profile(self, uuid: str) -> None: ...

    def delete_profiles(self, uuids: Sequence[str]) -> None:
        """Each that exists; one already gone is no error."""

    def delete_device(self, interface: str) -> None: ...  # a software device (a bond)

    def activate(self, uuid: str, device: str | None = None) -> None:
        """Raises DependencyNotReady when a port's bond cannot take it yet."""

    def deactivate(self, uuid: str) -> None: ...

    def reload_profiles(self) -> None: ...

    def device_events(self, interfaces: Sequence[str]) -> DeviceEvents: ...


class System(Protocol):
    """The box beyond NetworkManager: files, probes, netplan."""

    def read_bytes(self, path: str) -> bytes | None: ...

    def write_bytes(self, path: str, data: bytes, mode: int = 0o600) -> None: ...

    def remove(self, path: str) -> None: ...

    def ping(self, address: str, interface: str | None = None, count: int = 1) -> bool: ...

    def arp_probe(self, address: str, interface: str) -> bool | None:
        """Did `address` answer ARP through `interface` (a few requests, a few seconds)?
        None: could not ask (no packet socket, the interface gone)."""
        ...

    def address_taken(self, address: str, interface: str) -> bool | None:
        """Does another machine use `address` on `interface` (an ARP probe, under a
        second)? None: cannot tell."""
        ...

    def netplan_generate(self) -> bool: ...  # False when netplan is not installed

    def netplan_check(self, files: Mapping[str, bytes], bond: str) -> str | None:
        """netplan's complaint if /etc/netplan with `files` written (path -> content) would
        not render `bond` for NetworkManager; None if it would. Changes nothing."""
        ...

    def sync(self) -> None:
        """Flush every file written so far to the disk. NetworkManager writes a new keyfile
        without fsync: after a power cut it can be an empty file."""

    def boot_id(self) -> str: ...
