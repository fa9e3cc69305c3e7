"""The two worlds NetworkManager keeps profiles in, and what a change does to files in each.

- keyfile (Debian's NetworkManager): profiles are /etc/NetworkManager/system-connections
  keyfiles; netplan's generator renders /etc/netplan/*.yaml into /run netplan-* profiles at
  every boot.
- netplan (Ubuntu 23.10+, likely Raspberry Pi OS trixie): NetworkManager is built with netplan
  as its store; a profile saved to disk becomes /etc/netplan/90-NM-<uuid>.yaml, and deleting a
  netplan-defined profile makes NetworkManager rewrite the YAML that defined it (comments lost).

Across both, a box whose ports come from netplan YAML (Debian with netplan, Ubuntu, Raspberry
Pi OS trixie) gets the bond committed as netplan YAML in a file of tightrope's own
(core/netplan_yaml.py), and NetworkManager is never asked to write or delete a profile on disk
there; a box without netplan keeps NetworkManager keyfiles.

Pure: from a snapshot and a plan to sentences and file lists for `plan`, `status` and commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tightrope.core.discovery import Discovery, stanzas_by_file
from tightrope.core.netplan_yaml import own_file
from tightrope.core.profiles import DesiredProfile

KEYFILE_DIR = "/etc/NetworkManager/system-connections"


class CommitAs(str, Enum):
    """What the commit writes for the bond to outlive a reboot."""

    KEYFILES = "networkmanager"  # NetworkManager saves the profiles (Update2 to disk)
    NETPLAN = "netplan"  # tightrope writes netplan YAML; netplan renders the profiles


def commit_as(found: Discovery) -> CommitAs:
    """netplan YAML wherever netplan defines a port today, NetworkManager itself stores
    profiles as netplan (Ubuntu's patch), or a previous commit wrote our own file."""
    if found.netplan or found.storage_world == "netplan" or found.netplan_own:
        return CommitAs.NETPLAN
    return CommitAs.KEYFILES


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
    commit_as: CommitAs = CommitAs.KEYFILES
    netplan_file: str = ""  # with CommitAs.NETPLAN: the file that holds the bond
    netplan_yaml: str = ""  # its content, PSK masked


def new_profile_file(profile: DesiredProfile) -> str:
    return f"{KEYFILE_DIR}/{profile.id}.nmconnection"


def storage_report(
    found: Discovery,
    desired: tuple[DesiredProfile, ...],
    retire_files: dict[str, str],
    modify_files: dict[str, str] | None = None,
    written: set[str] | None = None,
    netplan_yaml: str = "",
) -> StorageReport:
    """retire_files / modify_files: uuid -> filename of each profile the plan retires /
    changes in place; written: the uuids the plan writes (default: every desired profile);
    netplan_yaml: the bond as netplan YAML, PSK masked (shown when the commit writes it)."""
    if commit_as(found) is CommitAs.NETPLAN:
        return _netplan_report(found, desired, retire_files, written, netplan_yaml)
    modify_files = modify_files or {}
    files = _retired_files(retire_files)
    for d in desired:
        if written is not None and d.uuid not in written:
            continue
        on_disk = modify_files.get(d.uuid, "")
        if on_disk.startswith(("/etc/", "/lib/")):
            files.append(FileChange(on_disk, "rewrite", f"profile {d.id}"))
        else:
            files.append(FileChange(new_profile_file(d), "create", f"profile {d.id}"))
    summary = "Profiles are stored as NetworkManager keyfiles (no netplan defines the ports)"
    return StorageReport(found.storage_world, summary, tuple(files), psk_in_yaml=False)


def _retired_files(retire_files: dict[str, str]) -> list[FileChange]:
    return [
        FileChange(filename, "delete", f"retired profile {uuid} (backed up)")
        for uuid, filename in sorted(retire_files.items())
        if filename.startswith(("/etc/", "/lib/")) and not _netplan_generated(filename)
    ]


def _stanza_edits(found: Discovery) -> tuple[dict[str, list[str]], list[FileChange]]:
    by_path = {path: [s.name for s in stanzas]
               for path, stanzas in stanzas_by_file(found.netplan).items()}  # fmt: skip
    edits = [
        FileChange(path, "edit", "remove " + ", ".join(names)
                   + " (backed up byte for byte; other stanzas and comments kept)")
        for path, names in by_path.items()
    ]  # fmt: skip
    return by_path, edits


def _netplan_report(
    found: Discovery,
    desired: tuple[DesiredProfile, ...],
    retire_files: dict[str, str],
    written: set[str] | None,
    netplan_yaml: str,
) -> StorageReport:
    by_path, files = _stanza_edits(found)
    bond = desired[0].id
    path = own_file(bond)
    changing = written is None or bool(written) or not found.netplan_own
    if changing:
        action = "rewrite" if found.netplan_own else "create"
        files.append(FileChange(path, action, f"{bond} and its ports as netplan YAML (0600); "
                                "netplan renders their profiles"))  # fmt: skip
    files += _retired_files(retire_files)
    wifi = any("802-11-wireless-security" in d.settings for d in desired)
    moved = f", removes the ports' stanzas from {_names(by_path)}" if by_path else ""
    summary = (
        f"The ports' network comes from netplan here: committing writes {bond} as netplan "
        f"YAML in {path}{moved}, and runs netplan generate; NetworkManager reads the "
        "profiles netplan renders"
    )
    return StorageReport(found.storage_world, summary, tuple(files),
                         psk_in_yaml=wifi and changing, commit_as=CommitAs.NETPLAN,
                         netplan_file=path, netplan_yaml=netplan_yaml)  # fmt: skip


def _names(by_path: dict[str, list[str]]) -> str:
    return ", ".join(p.rsplit("/", 1)[-1] for p in sorted(by_path)) or "no file"


def _netplan_generated(filename: str) -> bool:
    return filename.rsplit("/", 1)[-1].startswith("netplan-")
