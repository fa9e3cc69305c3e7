"""The user's SSH identity for a box, as `ssh -G` resolves it, so the journey reaches the box
at its new address as the same user, port, jump host and keys, and checks the host key under
exactly the name known_hosts stores it by. The parser is pure; `resolve` runs ssh."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from dataclasses import dataclass

from tightrope.errors import UsageError

DEFAULT_PORT = 22


@dataclass(frozen=True)
class Identity:
    user: str
    hostname: str
    port: int
    proxyjump: str | None
    identity_files: tuple[str, ...]
    host_key_alias: str | None
    known_hosts_files: tuple[str, ...]
    proxycommand: str | None = None

    @property
    def via_proxy(self) -> bool:
        """ssh reaches the box through a jump host or a proxy command, not straight."""
        return bool(self.proxyjump or self.proxycommand)

    @property
    def known_hosts_name(self) -> str:
        """The name ssh looks up in known_hosts: HostKeyAlias as it is, else the host name,
        bracketed with its port when that is not 22 (OpenSSH's own rule)."""
        if self.host_key_alias:
            return self.host_key_alias
        if self.port != DEFAULT_PORT:
            return f"[{self.hostname}]:{self.port}"
        return self.hostname


def parse_ssh_g(text: str) -> Identity:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            values.setdefault(key.lower(), []).append(value.strip())

    def one(key: str) -> str | None:
        v = values.get(key)
        return v[0] if v and v[0] and v[0].lower() != "none" else None

    hostname = one("hostname")
    if hostname is None:
        raise UsageError("`ssh -G` named no HostName for this host")
    port = one("port") or str(DEFAULT_PORT)
    files: list[str] = []
    for key in ("userknownhostsfile", "globalknownhostsfile"):
        for v in values.get(key, []):
            files += [f for f in v.split() if f and f != "none"]
    return Identity(
        user=one("user") or "", hostname=hostname, port=int(port) if port.isdigit() else 22,
        proxyjump=one("proxyjump"), identity_files=tuple(values.get("identityfile", [])),
        host_key_alias=one("hostkeyalias"), proxycommand=one("proxycommand"),
        known_hosts_files=tuple(os.path.expanduser(f) for f in files),
    )  # fmt: skip


def direct_address(identity: Identity) -> str | None:
    """The box's IPv4 address when ssh goes to it straight from here (no jump host, no proxy
    command) and names it by address: what the laptop can echo to. Names are not resolved: an
    address that is not the one ssh uses would measure another machine."""
    if identity.via_proxy:
        return None
    try:
        return str(ipaddress.IPv4Address(identity.hostname))
    except ValueError:
        return None


def resolve(base_argv: list[str], destination: str) -> Identity:
    """`ssh -G` with the same options the journey uses, for the user's destination."""
    try:
        cp = subprocess.run([*base_argv, "-G", "--", destination], capture_output=True,
                            timeout=10, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run `ssh -G`: {exc}") from None
    if cp.returncode != 0:
        raise UsageError(f"ssh cannot resolve {destination}: "
                         + cp.stderr.decode(errors="replace").strip()[-300:])  # fmt: skip
    return parse_ssh_g(cp.stdout.decode(errors="replace"))


def names_to_try(identity: Identity) -> tuple[str, ...]:
    """The names ssh accepts a known key under, in its order: on a port other than 22 it
    falls back to the bare host name when no `[host]:port` entry exists."""
    if identity.host_key_alias or identity.port == DEFAULT_PORT:
        return (identity.known_hosts_name,)
    return (identity.known_hosts_name, identity.hostname)


def known_name(identity: Identity) -> str | None:
    """The name under which known_hosts holds the box's key (hashed entries too), or None."""
    for name in names_to_try(identity):
        for path in identity.known_hosts_files:
            if not os.path.isfile(path):
                continue
            try:
                cp = subprocess.run(["ssh-keygen", "-F", name, "-f", path],
                                    capture_output=True, timeout=10, check=False)  # fmt: skip
            except (OSError, subprocess.TimeoutExpired):
                continue
            if cp.returncode == 0 and cp.stdout.strip():
                return name
    return None
