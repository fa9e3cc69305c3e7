"""YAML text -> plain data, strictly: duplicate keys and non-YAML input are problems, not surprises.

PyYAML silently keeps the last of two equal keys; an admin who writes `eth0:` twice must hear
about it, so the loader refuses duplicates.
"""

from __future__ import annotations

from typing import Any

import yaml

from tightrope.errors import ConfigError, Problem


class _StrictLoader(yaml.SafeLoader):
    pass


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = loader.construct_object(value_node, deep=True)
    return seen


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_yaml(text: str | bytes, origin: str = "") -> Any:
    """Parse one YAML document. Raises ConfigError (never a YAML or Unicode traceback)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                [
                    Problem(
                        "(file)",
                        f"is not UTF-8 text (byte {exc.start})",
                        "give a YAML file written as UTF-8 text",
                    )
                ],
                origin,
            ) from None
    if "\x00" in text:
        raise ConfigError(
            [
                Problem(
                    "(file)",
                    "contains NUL bytes: this looks like a binary file",
                    "give the YAML file describing the bond",
                )
            ],
            origin,
        )
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            [
                Problem(
                    "(file)",
                    f"is not valid YAML{where}: {problem}",
                    "fix the YAML syntax there (indentation, colons, quotes)",
                )
            ],
            origin,
        ) from None
    except RecursionError:
        raise ConfigError(
            [Problem("(file)", "is nested too deeply", "give a plain YAML file")], origin
        ) from None


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
