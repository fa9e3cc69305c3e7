"""What the snapshot needs from outside NetworkManager's D-Bus API: netplan files, the kernel's
bond status, systemd-networkd's links, Wi-Fi power saving, the SSH session.

Each query is a small reader taking the filesystem root (so tests run in a temporary
directory) paired with a pure parser of what it read, the way netplan's CLI is built.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tightrope.core.redact import redact_netplan
from tightrope.core.snapshot import Session

NETPLAN_DIRS = ("lib/netplan", "etc/netplan", "run/netplan")
NM_BINARIES = ("usr/sbin/NetworkManager", "sbin/NetworkManager")
NM_CONF_FILES = ("usr/lib/NetworkManager/conf.d", "run/NetworkManager/conf.d",
                 "etc/NetworkManager/NetworkManager.conf", "etc/NetworkManager/conf.d")  # fmt: skip

# 802-11-wireless.powersave values (NMSettingWirelessPowersave).
POWERSAVE_DEFAULT, POWERSAVE_IGNORE, POWERSAVE_DISABLE, POWERSAVE_ENABLE = 0, 1, 2, 3


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None  # missing, or root-only and we are not root: a partial picture is fine


# -- SSH session ---------------------------------------------------------------------------


def parse_ssh_connection(value: str | None) -> Session:
    """SSH_CONNECTION is 'client_ip client_port server_ip server_port'."""
    parts = (value or "").split()
    if len(parts) != 4:
        return Session()
    try:
        port = int(parts[3])
    except ValueError:
        port = None
    return Session(ssh_client=parts[0], ssh_server=parts[2], ssh_port=port)


# -- netplan -------------------------------------------------------------------------------


def read_netplan_files(
    root: str | Path = "/", include_secrets: bool = False, memo: Path | None = None
) -> dict[str, str]:
    """Absolute path -> text for every readable *.yaml netplan would read; like netplan, a
    later directory's file shadows an earlier one's of the same name, but all are reported.
    Secrets are redacted (core.redact) unless include_secrets: snapshots travel to the laptop
    and into plans, and the PSK must not.

    memo: a file (root's, in a root-only folder) that keeps each redacted text under its
    file's identity (inode, size, times): redacting parses the YAML, and the parser's import
    alone cost `tightrope status` 0.25 s on a small box, for files that rarely change."""
    base = Path(root)
    known = {} if include_secrets or memo is None else _load_memo(memo)
    seen: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    for directory in NETPLAN_DIRS:
        folder = base / directory
        try:
            names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
        except OSError:
            continue
        for name in names:
            where = f"/{directory}/{name}"
            if include_secrets:
                text = _read_text(folder / name)
                if text is not None:
                    files[where] = text
                continue
            got = _read_identified(folder / name)
            if got is None:
                continue
            identity, text = got
            hit = known.get(where)
            redacted = hit[1] if hit and hit[0] == identity else redact_netplan(text)
            files[where] = redacted
            seen[where] = [identity, redacted]
    if memo is not None and not include_secrets and seen != known:
        _save_memo(memo, seen)
    return files


def _read_identified(path: Path) -> tuple[str, str] | None:
    """The file's identity, taken before its text is read (a change after that is seen
    at the next read, never hidden under the old identity), and its text."""
    try:
        with path.open("rb") as fh:
            st = os.fstat(fh.fileno())
            raw = fh.read()
    except OSError:
        return None
    identity = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    return identity, raw.decode("utf-8", errors="replace")


def _load_memo(memo: Path) -> dict[str, list[str]]:
    import json

    try:
        with memo.open("rb") as fh:
            st = os.fstat(fh.fileno())
            # Only root's own memo, in a folder nobody else writes: a forged text would
            # mislead the plan about which netplan stanzas define a device.
            if st.st_uid != 0 or st.st_mode & 0o022:
                return {}
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items()
            if isinstance(v, list) and len(v) == 2 and all(isinstance(x, str) for x in v)}


def _save_memo(memo: Path, entries: dict[str, list[str]]) -> None:
    import json

    try:
        memo.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(entries, fh)
        os.replace(tmp, memo)
    except OSError:
        return  # a read-only /run, a full disk: the next read redacts again, that is all


def maps_link_netplan(maps_text: str) -> bool:
    """/proc/<pid>/maps of NetworkManager: does it have libnetplan mapped?"""
    return "libnetplan.so" in maps_text


def binary_links_netplan(binary: bytes) -> bool:
    """The ELF's dynamic string table names every DT_NEEDED library, so a byte search for the
    soname is enough without parsing ELF (false positives would need the string elsewhere)."""
    return b"libnetplan.so" in binary


def nm_uses_netplan(nm_pid: int | None, root: str | Path = "/") -> bool:
    base = Path(root)
    if nm_pid:
        maps = _read_text(base / f"proc/{nm_pid}/maps")
        if maps:
            return maps_link_netplan(maps)
    for name in NM_BINARIES:
        try:
            return binary_links_netplan((base / name).read_bytes())
        except OSError:
            continue
    return False


# -- kernel bonds --------------------------------------------------------------------------


def read_bond_texts(names: Iterable[str], root: str | Path = "/") -> dict[str, str]:
    texts = {}
    for name in names:
        text = _read_text(Path(root) / "proc/net/bonding" / name)
        if text is not None:
            texts[name] = text
    return texts


# -- systemd-networkd ----------------------------------------------------------------------

_NETWORKD_UNMANAGED = {"", "unmanaged", "linger"}


def networkd_link_managed(state_text: str) -> bool:
    """/run/systemd/netif/links/<ifindex>: ADMIN_STATE says whether networkd configures it."""
    for line in state_text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ADMIN_STATE":
            return value.strip() not in _NETWORKD_UNMANAGED
    return False


def _index_to_name(index: int) -> str | None:
    try:
        return socket.if_indextoname(index)
    except OSError:
        return None


def read_networkd_links(
    root: str | Path = "/", index_to_name: Callable[[int], str | None] = _index_to_name
) -> tuple[str, ...]:
    folder = Path(root) / "run/systemd/netif/links"
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return ()
    names = []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        text = _read_text(entry)
        name = index_to_name(int(entry.name))
        if text is not None and name and networkd_link_managed(text):
            names.append(name)
    return tuple(sorted(names))


# -- Wi-Fi power saving --------------------------------------------------------------------


def parse_iw_power_save(text: str) -> bool | None:
    """`iw dev wlan0 get power_save` prints 'Power save: on'."""
    match = re.search(r"Power save:\s*(on|off)", text)
    return None if match is None else match.group(1) == "on"


def parse_nm_conf_powersave(texts: Iterable[str]) -> int | None:
    """The global default (wifi.powersave in a [connection] section); later files win."""
    value: int | None = None
    for text in texts:
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
            elif section.startswith("connection") and "=" in line and not line.startswith("#"):
                key, _, val = line.partition("=")
                if key.strip() == "wifi.powersave":
                    try:
                        value = int(val.strip())
                    except ValueError:
                        continue
    return value


def effective_powersave(profile_value: int | None, global_value: int | None) -> bool | None:
    """None when NetworkManager leaves it to the driver (ignore/default): unknown here."""
    value = profile_value or POWERSAVE_DEFAULT
    if value == POWERSAVE_DEFAULT:
        value = global_value or POWERSAVE_IGNORE
    if value == POWERSAVE_ENABLE:
        return True
    if value == POWERSAVE_DISABLE:
        return False
    return None


def read_nm_conf_texts(root: str | Path = "/") -> list[str]:
    base = Path(root)
    texts = []
    for entry in NM_CONF_FILES:
        path = base / entry
        files = sorted(p for p in path.glob("*.conf")) if path.is_dir() else [path]
        for file in files:
            text = _read_text(file)
            if text is not None:
                texts.append(text)
    return texts


def iw_power_save(interface: str) -> bool | None:
    """The driver's live state; None when `iw` is missing or says nothing useful."""
    iw = shutil.which("iw") or next(
        (p for p in ("/usr/sbin/iw", "/sbin/iw") if os.access(p, os.X_OK)), None
    )
    if iw is None:
        return None
    try:
        done = subprocess.run(
            [iw, "dev", interface, "get", "power_save"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_iw_power_save(done.stdout)


def wifi_powersave(
    wifi_profiles: Mapping[str, int | None],
    global_value: int | None,
    live: Callable[[str], bool | None] = iw_power_save,
) -> dict[str, bool]:
    """wifi_profiles: Wi-Fi interface -> powersave of the profile active on it (None: no
    profile). The driver's live answer wins; NetworkManager's intent is the fallback."""
    result = {}
    for interface, profile_value in sorted(wifi_profiles.items()):
        state = live(interface)
        if state is None:
            state = effective_powersave(profile_value, global_value)
        if state is not None:
            result[interface] = state
    return result
