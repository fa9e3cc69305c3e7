"""Collects every problem in the user's input, so they are all reported at once."""

from __future__ import annotations

import difflib
from typing import Any

from tightrope.core import rules
from tightrope.errors import Problem

# Names admins know from nmcli, sysfs or the seed script, mapped to our (netplan's) keys.
ALIASES = {
    "miimon": "mii-monitor-interval",
    "updelay": "up-delay",
    "downdelay": "down-delay",
    "fail_over_mac": "fail-over-mac-policy",
    "fail-over-mac": "fail-over-mac-policy",
    "num_grat_arp": "gratuitous-arp",
    "num_unsol_na": "gratuitous-arp",
    "peer_notif_delay": "peer-notify-delay",
    "interfaces": "ports",
    "slaves": "ports",
    "name": "bond",
    "dns": "nameservers",
    "gateway4": "gateway",
    "address": "addresses",
    "password": "psk",
}


class Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, fix: str) -> None:
        self.problems.append(Problem(where, message, fix))

    def verdict(self, where: str, verdict: rules.Verdict) -> bool:
        if verdict is not None:
            self.add(where, *verdict)
        return verdict is None

    def mapping(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(
                where or "(file)",
                f"must be a mapping of keys, not {kind(value)}",
                f"write it as `key: value` lines; keys: {', '.join(allowed)}",
            )
            return {}
        for key in value:
            if key not in allowed:
                fix = _suggest(str(key), allowed)
                self.add(f"{where}.{key}" if where else str(key), "is not a known key", fix)
        return {k: v for k, v in value.items() if k in allowed}

    def integer(self, value: Any, where: str, low: int, high: int, unit: str = "") -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(
                where,
                f"must be a whole number{unit}, not {kind(value)}",
                f"write a number from {low} to {high}",
            )
            return None
        if not low <= value <= high:
            self.add(
                where,
                f"is {value}; it must be from {low} to {high}",
                f"write a number from {low} to {high}",
            )
            return None
        return value

    def text(self, value: Any, where: str, fix: str) -> str | None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.add(where, f"must be text, not {kind(value)}", fix)
            return None
        return str(value)

    def sequence(self, value: Any, where: str, fix: str) -> list[Any]:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return [value]  # a single item is obviously meant as a list of one
        if not isinstance(value, list):
            self.add(where, f"must be a list, not {kind(value)}", fix)
            return []
        return value


def _suggest(key: str, allowed: tuple[str, ...]) -> str:
    alias = ALIASES.get(key)
    if alias in allowed:
        return f"did you mean `{alias}`?"
    close = difflib.get_close_matches(key, allowed, n=1)
    return f"did you mean `{close[0]}`?" if close else f"use one of: {', '.join(allowed)}"


def kind(value: Any) -> str:
    if value is None:
        return "empty"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)
