"""`completion bash|zsh|fish|man`: generated from the parser (tightrope.cli.docgen)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tightrope.errors import Exit


def _run(args: argparse.Namespace) -> int:
    from tightrope.cli.docgen import GENERATORS
    from tightrope.cli.main import build_parser

    sys.stdout.write(GENERATORS[args.shell](build_parser()))
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("completion",
                       help="print shell completion (bash, zsh, fish) or the man page")
    p.add_argument("shell", choices=("bash", "zsh", "fish", "man"),
                   help="bash: source it from ~/.bashrc; zsh: save as _tightrope in $fpath; "
                   "fish: save in ~/.config/fish/completions/tightrope.fish; man: roff for "
                   "`man -l -`")  # fmt: skip
    p.set_defaults(func=_run)
