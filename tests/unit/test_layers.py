"""The layers hold: the CLI parses, asks and renders, and reaches the box only through the
box-side application layer (box/) or the remote transport, never txn/ or nm/ directly."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "tightrope"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_cli_module_imports_txn_or_nm() -> None:
    bad = {f"{p.name}: {m}" for p in (SRC / "cli").glob("*.py") for m in _imports(p)
           if m.startswith(("tightrope.txn", "tightrope.nm"))}  # fmt: skip
    assert not bad


def test_the_protocol_module_stands_alone() -> None:
    # The Ansible collection carries a copy of it: it may import nothing of tightrope.
    assert not {m for m in _imports(SRC / "proto.py") if m.startswith("tightrope")}


def test_core_imports_no_io_layer() -> None:
    layers = ("tightrope.nm", "tightrope.txn", "tightrope.remote", "tightrope.cli",
              "tightrope.box", "subprocess", "socket")  # fmt: skip
    bad = {f"{p.name}: {m}" for p in (SRC / "core").glob("*.py") for m in _imports(p)
           if m.startswith(layers)}  # fmt: skip
    assert not bad
