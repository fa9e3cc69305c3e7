"""`[user@]host[:port]` (or an ssh_config Host alias) as a typed value. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tightrope.errors import UsageError

_HOST = re.compile(r"^[A-Za-z0-9._%-]+$")
_USER = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9._@-]*$")


@dataclass(frozen=True)
class Target:
    host: str
    user: str | None = None
    port: int | None = None

    def destination(self, host: str | None = None) -> str:
        h = host or self.host
        return f"{self.user}@{h}" if self.user else h

    def __str__(self) -> str:
        port = f":{self.port}" if self.port else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user + '@' if self.user else ''}{host}{port}"


def parse_target(text: str) -> Target:
    """Parse what the user typed after --host; refuses what ssh would misread as an option."""
    fix = "give --host as [user@]host[:port], e.g. pi@192.168.1.50 or pi@raspberrypi:2222"
    if not text or text.startswith("-") or any(c.isspace() for c in text):
        raise UsageError(f"--host {text!r} is not a host", hint=fix)
    user = None
    rest = text
    if "@" in text:
        user, _, rest = text.rpartition("@")
        if not _USER.match(user):
            raise UsageError(f"--host {text!r}: {user!r} is not a user name", hint=fix)
    port = None
    if rest.startswith("["):
        host, sep, tail = rest[1:].partition("]")
        if not sep:
            raise UsageError(f"--host {text!r}: unclosed [", hint=fix)
        if tail:
            if not tail.startswith(":"):
                raise UsageError(f"--host {text!r}: junk after ]", hint=fix)
            port = _port(tail[1:], text, fix)
    elif rest.count(":") == 1:
        host, _, p = rest.partition(":")
        port = _port(p, text, fix)
    else:
        host = rest  # a bare IPv6 address has several colons and no port
    if not host or not (_HOST.match(host) or ":" in host):
        raise UsageError(f"--host {text!r}: {host!r} is not a host name or address", hint=fix)
    return Target(host=host, user=user, port=port)


def _port(value: str, text: str, fix: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise UsageError(f"--host {text!r}: {value!r} is not a port", hint=fix)
    return int(value)
