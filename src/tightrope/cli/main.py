"""Entry point: one parser, one module per command, exit codes from tightrope.errors."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from tightrope import __version__
from tightrope.errors import Exit, TightropeError

# Each module has register(subparsers): it adds its parser(s) and sets `func`, a callable
# taking the parsed args and returning an exit code. Imported lazily so that `--help` and the
# commands that do not need D-Bus or rich start fast. The table says which module registers
# each command (a test keeps it true): `tightrope status` imports only cmd_status, not the
# modules of every other command (on a small box, each import is felt in a command meant to
# answer at nmcli's speed).
_MODULE_OF: dict[str, str] = {
    "bond": "tightrope.cli.cmd_bond",
    "plan": "tightrope.cli.cmd_plan",
    **dict.fromkeys(("apply", "confirm", "rollback", "undo", "log"), "tightrope.cli.cmd_apply"),
    **dict.fromkeys(("watch", "drill"), "tightrope.cli.cmd_prove"),
    "status": "tightrope.cli.cmd_status",
    "lab": "tightrope.cli.cmd_lab",
    "completion": "tightrope.cli.cmd_completion",
}
_COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(_MODULE_OF.values()))


def _hidden(argv: list[str]) -> int | None:
    """Entries spoken to by tightrope itself, never by a user: the agent (the laptop's `--host`
    session) and the detached transaction runner. They skip argparse and every command module
    (someone waits for each of these starts, seconds on a small box) and stay out of --help."""
    if argv[:1] == ["_agent"]:
        from tightrope.box.agent import main as agent

        return agent()
    if argv[:1] == ["_txn-run"]:
        from tightrope.box.run import main as runner

        return runner(argv)
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, only that command's module is imported (the parse
    of its arguments is the same, and the top-level help lists every command only when
    built whole)."""
    parser = argparse.ArgumentParser(
        prog="tightrope",
        description="Change a remote box's network without locking yourself out.",
    )
    parser.add_argument("--version", action="version", version=f"tightrope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the ssh commands and D-Bus calls made (never a secret)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    modules = (_MODULE_OF[command],) if command in _MODULE_OF else _COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    from tightrope.cli.helptext import describe

    describe(sub)
    return parser


def _verbose_logging() -> None:
    """-v: the ssh and D-Bus calls on stderr, made printable (a host name or a box's words
    in them reach the terminal like any other string: no escape sequences)."""
    import logging

    from tightrope.core.printable import printable

    class Printable(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return printable(super().format(record))

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Printable("tightrope -v: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    hidden = _hidden(argv)
    if hidden is not None:
        return hidden
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    if args.verbose:
        _verbose_logging()
    from tightrope.cli.render import error as render_error

    try:
        code: int = args.func(args)
        return code
    except TightropeError as exc:
        render_error(exc, as_json=bool(getattr(args, "json", False)))
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:
        # `tightrope plan --json | head`: the reader went away. Say nothing more (stdout is
        # gone, and Python would complain again at exit), as Python's docs advise.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(Exit.FAILED)
    except OSError as exc:
        # A file the user named that cannot be read or written (permissions, a directory,
        # a full disk): their mistake or their machine's, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        render_error(TightropeError(f"{where}{exc.strerror or exc}",
                                    hint="Check the path and its permissions (the state "
                                    "under /var/lib/tightrope is root's)."),
                     as_json=bool(getattr(args, "json", False)))  # fmt: skip
        return int(Exit.FAILED)
