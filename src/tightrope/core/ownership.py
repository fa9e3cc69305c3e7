"""What tightrope made: its profiles' UUIDs and ids, its netplan file.

Kept apart from profiles.py and netplan_yaml.py (and the model and YAML they import) because
`tightrope status` asks only these questions, at a start-up meant to be as quick as nmcli's.
"""

from __future__ import annotations

import hashlib

_NAMESPACE = bytes.fromhex("4f1b7d9e2b1c5c1e9a577469676874f0")

OWN_DIR = "/etc/netplan"


def profile_uuid(bond: str, port: str | None = None) -> str:
    return uuid5(_NAMESPACE, f"tightrope/{bond}/{port or ''}")


def uuid5(namespace: bytes, name: str) -> str:
    """RFC 4122's name-based UUID (SHA-1), as uuid.uuid5 makes it: the uuid module imports
    `platform` and more, 60 ms of a small box's status for one hash."""
    raw = bytearray(hashlib.sha1(namespace + name.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def port_profile_id(bond: str, port: str) -> str:
    return f"{bond}-port-{port}"


def made_by_tightrope(uuid: str, id_: str, interface: str | None) -> bool:
    """Our profiles carry UUIDs derived from their names; nobody else's match by chance."""
    if interface is None:
        return False
    if uuid == profile_uuid(interface):
        return True
    bond, sep, port = id_.rpartition("-port-")
    return bool(sep) and port == interface and uuid == profile_uuid(bond, port)


def own_file(bond: str) -> str:
    """The file that holds the bond: after netplan's own 50-cloud-init.yaml, before
    NetworkManager's 90-NM-<uuid>.yaml."""
    return f"{OWN_DIR}/90-tightrope-{bond}.yaml"


def is_own_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path.startswith(OWN_DIR + "/") and name.startswith("90-tightrope-")


def names_own_file(chores: str) -> bool:
    """Does a list of chores still to do (txn/chores.py) include writing our own file?"""
    return f"write {OWN_DIR}/90-tightrope-" in chores
