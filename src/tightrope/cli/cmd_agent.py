"""`_agent`: the box side of remote mode, serving JSON lines on stdin/stdout (tightrope.box.agent).

The PSK travels only inside requests on the SSH channel's stdin: never in argv, the
environment or a file.
"""

from __future__ import annotations

import argparse
from typing import Any


def _run(args: argparse.Namespace) -> int:
    from tightrope.box.agent import main

    return main()


def register(sub: Any) -> None:
    p = sub.add_parser("_agent")  # hidden: spoken to by `--host` over SSH
    p.set_defaults(func=_run)
