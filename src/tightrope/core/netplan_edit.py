"""Remove device stanzas from a netplan YAML file, keeping everything else as written.

netplan regenerates `netplan-eth0` at every boot from /etc/netplan, so retiring that profile
means removing the eth0 stanza from its file. The edit works on lines so comments and other
devices stay as the admin wrote them; if the file is written in a way the line edit cannot
follow (flow style, anchors), the result is checked against the parsed meaning and, failing
that, the file is rewritten from its data (comments lost; the plan says so).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Edit:
    text: str
    preserved_layout: bool  # False: rewritten from data, comments lost
    empty: bool  # no device stanza is left in the file


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _meaningful(line: str) -> bool:
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _expected(doc: Any, stanzas: set[tuple[str, str]]) -> Any:
    doc = copy.deepcopy(doc)
    network = doc.get("network") if isinstance(doc, dict) else None
    if not isinstance(network, dict):
        return doc
    for section, key in stanzas:
        body = network.get(section)
        if isinstance(body, dict):
            body.pop(key, None)
            if not body:
                del network[section]
    return doc


def _line_edit(lines: list[str], stanzas: set[tuple[str, str]]) -> list[str]:
    out = list(lines)
    for section, key in stanzas:
        sec = next(
            (i for i, ln in enumerate(out) if ln.strip() == f"{section}:" and _indent(ln) > 0),
            None,
        )
        if sec is None:
            continue
        base = _indent(out[sec])
        start = end = None
        child = None
        for i in range(sec + 1, len(out)):
            ln = out[i]
            if not _meaningful(ln):
                continue
            if _indent(ln) <= base:
                break
            child = _indent(ln) if child is None else child
            if _indent(ln) != child:
                continue
            content = ln.split(" #", 1)[0].rstrip()
            name = content.strip().split(":", 1)[0].strip().strip("'\"")
            if name == key and content.endswith(":"):
                start = i
                end = len(out)
                for j in range(i + 1, len(out)):
                    if _meaningful(out[j]) and _indent(out[j]) <= child:
                        end = j
                        break
                break
        if start is None or end is None:
            continue
        del out[start:end]
        remaining = [ln for ln in out[sec + 1 :] if _meaningful(ln)]
        if not remaining or _indent(remaining[0]) <= base:
            del out[sec]
    return out


def remove_stanzas(text: str, stanzas: list[tuple[str, str]]) -> Edit:
    wanted = set(stanzas)
    doc = yaml.safe_load(text)
    expected = _expected(doc, wanted)
    edited = "".join(_line_edit(text.splitlines(keepends=True), wanted))
    try:
        if yaml.safe_load(edited) == expected:
            return Edit(edited, True, _empty(expected))
    except yaml.YAMLError:
        pass
    rewritten = yaml.safe_dump(expected, sort_keys=False, default_flow_style=False)
    return Edit(rewritten, False, _empty(expected))


def _empty(doc: Any) -> bool:
    network = doc.get("network") if isinstance(doc, dict) else None
    if not isinstance(network, dict):
        return True
    return not any(
        isinstance(network.get(s), dict) and network[s]
        for s in (
            "ethernets",
            "wifis",
            "bonds",
            "bridges",
            "vlans",
            "tunnels",
            "modems",
            "vrfs",
            "nm-devices",
            "dummy-devices",
            "virtual-ethernets",
        )
    )
