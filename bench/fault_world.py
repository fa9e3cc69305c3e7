"""What a lab box holds, for bench/faults.py: every profile NetworkManager has (secrets
included: compared, never written to the results) and the bytes of every netplan file, and
what differs between two such worlds in words."""

from __future__ import annotations

import json
from typing import Any

from tests.lab.boxtools import profiles

from tightrope.lab import Box

NETPLAN = "cd /etc/netplan && for f in *; do printf '%s ' \"$f\"; base64 -w0 \"$f\"; echo; done"


def world(box: Box, host: str) -> dict[str, Any]:
    nets = box.ssh(NETPLAN, host=host, timeout=60, check=True).stdout.split("\n")
    return {"profiles": profiles(box, host),
            "netplan": dict(ln.split(" ", 1) for ln in nets if ln.strip())}  # fmt: skip


def by_name(profs: dict[str, Any]) -> dict[str, Any]:
    """Profiles keyed by name with every uuid replaced by its profile's name: a clean
    confirmed run and this one must agree on everything else."""
    text = json.dumps(profs, sort_keys=True)
    for uuid, p in profs.items():
        text = text.replace(uuid, p["id"])
    return {p["id"]: p for p in json.loads(text).values()}


# NetworkManager's own record of the access points a Wi-Fi profile has seen: it changes with
# the air, not with what tightrope does (boxtools leaves out `connection.timestamp` alike).
VOLATILE = {("802-11-wireless", "seen-bssids")}


def lost(before: dict[str, Any], after: dict[str, Any], named: bool) -> list[str]:
    """What differs between two worlds, in words (empty: nothing lost nor changed)."""
    out = []
    a, b = before["profiles"], after["profiles"]
    if named:
        a, b = by_name(a), by_name(b)
    for world_ in (a, b):
        for p in world_.values():
            for setting, key in VOLATILE:
                p["settings"].get(setting, {}).pop(key, None)
    out += [f"profile {a[k]['id']} missing" for k in a if k not in b]
    out += [f"profile {b[k]['id']} extra" for k in b if k not in a]
    for k in set(a) & set(b):
        for setting in set(a[k]["settings"]) | set(b[k]["settings"]):
            x, y = a[k]["settings"].get(setting), b[k]["settings"].get(setting)
            if x != y:
                keys = sorted(set(x or {}) ^ set(y or {}) | {
                    key for key in set(x or {}) & set(y or {}) if x[key] != y[key]})
                out.append(f"profile {a[k]['id']}: {setting}.{{{','.join(keys)}}} differ")
        if a[k]["filename"] != b[k]["filename"]:
            out.append(f"profile {a[k]['id']}: file {a[k]['filename']} -> {b[k]['filename']}")
    na, nb = before["netplan"], after["netplan"]
    out += [f"netplan {f} missing" for f in na if f not in nb]
    out += [f"netplan {f} extra" for f in nb if f not in na]
    out += [f"netplan {f} bytes differ" for f in set(na) & set(nb) if na[f] != nb[f]]
    return out
