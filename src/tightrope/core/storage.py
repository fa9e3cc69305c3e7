"""The two worlds NetworkManager keeps profiles in, and what a change does to files in each.

- keyfile (Debian's NetworkManager): profiles are /etc/NetworkManager/system-connections
  keyfiles; netplan's generator renders /etc/netplan/*.yaml into /run netplan-* profiles at
  every boot.
- netplan (Ubuntu 23.10+, likely Raspberry Pi OS trixie): NetworkManager is built with netplan
  as its store; a profile saved to disk becomes /etc/netplan/90-NM-<uuid>.yaml, and deleting a
  netplan-defined profile makes NetworkManager rewrite the YAML that defined it (comments lost).

Pure: from a snapshot and a plan to sentences and file lists for `plan`, `status` and commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from tightrope.core.discovery import Discovery
from tightrope.core.profiles import DesiredProfile

KEYFILE_DIR = "/etc/NetworkManager/system-connections"


@dataclass(frozen=True)
class FileChange:
    path: str
    action: str  # edit (stanzas removed), create, delete
    detail: str


@dataclass(frozen=True)
class StorageReport:
    world: str
    summary: str
    files: tuple[FileChange, ...]
    psk_in_yaml: bool  # the commit writes the Wi-Fi PSK in clear text into a 0600 YAML file


def new_profile_file(world: str, profile: DesiredProfile) -> str:
    if world == "netplan":
        return f"/etc/netplan/90-NM-{profile.uuid}.yaml"
    return f"{KEYFILE_DIR}/{profile.id}.nmconnection"


def storage_report(
    found: Discovery,
    desired: tuple[DesiredProfile, ...],
    retire_files: dict[str, str],
    modify_files: dict[str, str] | None = None,
    written: set[str] | None = None,
) -> StorageReport:
    """retire_files / modify_files: uuid -> filename of each profile the plan retires /
    changes in place; written: the uuids the plan writes (default: every desired profile)."""
    modify_files = modify_files or {}
    world = found.storage_world
    files: list[FileChange] = []
    by_path: dict[str, list[str]] = {}
    for s in found.netplan:
        if s.section in ("ethernets", "wifis", "bonds"):
            by_path.setdefault(s.path, []).append(f"{s.section}.{s.key}")
    for path, stanzas in sorted(by_path.items()):
        files.append(
            FileChange(
                path,
                "edit",
                "remove "
                + ", ".join(stanzas)
                + " (backed up byte for byte; other stanzas and comments kept)",
            )
        )
    for uuid, filename in sorted(retire_files.items()):
        if filename.startswith(("/etc/", "/lib/")) and not _netplan_generated(filename):
            files.append(FileChange(filename, "delete", f"retired profile {uuid} (backed up)"))
    for d in desired:
        if written is not None and d.uuid not in written:
            continue
        on_disk = modify_files.get(d.uuid, "")
        if on_disk.startswith(("/etc/", "/lib/")):
            files.append(FileChange(on_disk, "rewrite", f"profile {d.id}"))
        else:
            files.append(FileChange(new_profile_file(world, d), "create", f"profile {d.id}"))
    wifi = any("802-11-wireless-security" in d.settings for d in desired)
    if world == "netplan":
        summary = (
            "Profiles are stored as netplan YAML (NetworkManager with netplan support): "
            "committing removes the ports' stanzas from " + _names(by_path) + " and writes "
            f"{desired[0].id} and its ports as 90-NM-*.yaml"
            if by_path else
            "Profiles are stored as netplan YAML: committing writes "
            f"{desired[0].id} and its ports as /etc/netplan/90-NM-*.yaml"
        )  # fmt: skip
    else:
        summary = (
            "Profiles are stored as NetworkManager keyfiles"
            + (", and netplan renders " + _names(by_path) + " into netplan-* profiles at every "
               "boot: committing removes the ports' stanzas there" if by_path else "")
        )  # fmt: skip
    return StorageReport(world, summary, tuple(files), psk_in_yaml=world == "netplan" and wifi)


def _names(by_path: dict[str, list[str]]) -> str:
    return ", ".join(p.rsplit("/", 1)[-1] for p in sorted(by_path)) or "no file"


def _netplan_generated(filename: str) -> bool:
    return filename.rsplit("/", 1)[-1].startswith("netplan-")
