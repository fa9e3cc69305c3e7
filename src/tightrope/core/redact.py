"""Secrets out of everything shown: NetworkManager setting dicts and netplan YAML.

Profiles read with secrets (for backups) and netplan files read as root carry Wi-Fi PSKs,
802.1X passwords and the like; their reprs, JSON and plans must not. Pure, so core types can
use it in __repr__.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where text is parsed: a box without netplan never needs it
    import yaml

REDACTED = "(secret left out)"

# NetworkManager's secret properties (psk, wep-key0..3, leap-password, 802-1x password,
# password-raw, pin, private-key-password..., gsm puk, vpn secrets, wireguard private-key and
# preshared-key, macsec mka-cak). Their *-flags say where a secret is kept, and are no secret.
_SECRET_NAMES = frozenset({"psk", "pin", "puk", "secrets", "password-raw", "private-key",
                           "phase2-private-key", "preshared-key", "mka-cak"})  # fmt: skip
_WEP_KEY = re.compile(r"wep-key[0-3]")


def is_secret_key(key: object) -> bool:
    if not isinstance(key, str) or key.endswith("-flags"):
        return False
    return key in _SECRET_NAMES or key.endswith("password") or bool(_WEP_KEY.fullmatch(key))


def redact_settings(value: Any) -> Any:
    """A copy of a setting dict (any nesting: wireguard peers are a list of dicts) with every
    secret value replaced by REDACTED; empty secrets stay empty, so "no PSK" still shows."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if is_secret_key(k) and v not in (None, "", [], {})
                    else redact_settings(v)) for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return type(value)(redact_settings(v) for v in value)
    return value


def safe_repr(obj: Any, **shown: Any) -> str:
    """A dataclass's repr with some fields shown as given (redacted) instead of as they are."""
    parts = (f"{f.name}={shown[f.name] if f.name in shown else getattr(obj, f.name)!r}"
             for f in fields(obj) if f.repr)  # fmt: skip
    return f"{type(obj).__name__}({', '.join(parts)})"


# -- netplan ---------------------------------------------------------------------------------

# netplan's secrets: Wi-Fi and 802.1X `password` (per access point and under `auth`), the
# auth's `client-key-password`, WireGuard's `keys: {private, shared}`; `psk` for safety.
NETPLAN_SECRET_KEYS = frozenset({"password", "psk"})
_WIREGUARD_KEYS = frozenset({"private", "shared"})
UNPARSABLE = "# (not valid YAML: left out, as it may hold a secret)\n"
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)*")  # an anchor and/or tag before the value
_NULL_TAG = "tag:yaml.org,2002:null"


# The same few files are read again at every look of a transaction's verification: parsing
# them is the costly part of a snapshot on a small box.
@functools.lru_cache(maxsize=64)
def redact_netplan(text: str) -> str:
    """The YAML with every secret value replaced and every other byte kept: plain, quoted,
    multi-line and block scalars (| and >), values on the next line, flow mappings, and a
    value reached through an alias (redacted where its anchor defines it).

    The parser finds the values, so no layout escapes; text it cannot parse is left out
    whole (netplan would refuse it too, and discovery skips it either way)."""
    import yaml

    try:
        spans = sorted(set(_secret_spans(yaml.compose_all(text))), reverse=True)
    except yaml.YAMLError:
        return UNPARSABLE if text.strip() else text
    for start, end in spans:
        text = text[:start] + _replacement(text[start:end]) + text[end:]
    return text


def _replacement(value: str) -> str:
    # Keep the anchor/tag (aliases elsewhere still resolve) and the line breaks a block
    # scalar ends with (the next key keeps its line).
    props = _PROPERTIES.match(value)
    head = props.group(0) if props else ""
    body = value[len(head) :]
    tail = body[len(body.rstrip()) :]
    return f'{head}"{REDACTED}"{tail}'


Seen = set[tuple[int, bool, str]]


def _netplan_secret(key: str, parent: str) -> bool:
    return (key in NETPLAN_SECRET_KEYS or key.endswith("-password")
            or (parent == "keys" and key in _WIREGUARD_KEYS))  # fmt: skip


def _secret_spans(docs: Iterable[yaml.Node | None]) -> Iterable[tuple[int, int]]:
    seen: Seen = set()
    for doc in docs:
        if doc is not None:
            yield from _walk(doc, False, seen)


def _walk(
    node: yaml.Node, secret: bool, seen: Seen, parent: str = ""
) -> Iterable[tuple[int, int]]:
    import yaml

    if (id(node), secret, parent) in seen:  # an anchored node met again through an alias
        return
    seen.add((id(node), secret, parent))
    if isinstance(node, yaml.ScalarNode):
        if secret and node.value != "" and node.tag != _NULL_TAG:
            yield node.start_mark.index, node.end_mark.index
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, secret, seen)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            name = k.value if isinstance(k, yaml.ScalarNode) else ""
            yield from _walk(k, secret, seen)
            yield from _walk(v, secret or _netplan_secret(name, parent), seen, name)
