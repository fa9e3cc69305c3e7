"""The edges of a command: reading the config file, asking for a PSK, getting a snapshot."""

from __future__ import annotations

import argparse
import getpass
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from tightrope import proto
from tightrope.core.config import Sources, parse_config
from tightrope.core.model import BondConfig
from tightrope.core.yamltext import parse_yaml
from tightrope.errors import ConfigError, Problem

MAX_CONFIG_BYTES = 1 << 20  # a bond description is a few hundred bytes; refuse to slurp a disk


def _read_text(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def _prompt(ssid: str) -> str:
    return getpass.getpass(f"Wi-Fi passphrase for {ssid!r} (not echoed): ")


def sources(
    *, file_private: bool = True, interactive: bool | None = None, resolve_psk: bool = True
) -> Sources:
    if interactive is None:
        interactive = sys.stdin.isatty()
    return Sources(
        env=dict(os.environ),
        read_file=_read_text,
        prompt=_prompt if interactive else None,
        file_private=file_private,
        resolve_psk=resolve_psk,
    )


def load_config_file(path: str, *, interactive: bool | None = None) -> BondConfig:
    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(
                [
                    Problem(
                        "(file)", f"{path} is not a regular file", "give the path of the YAML file"
                    )
                ],
                path,
            )
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                [
                    Problem(
                        "(file)",
                        f"{path} is {st.st_size} bytes",
                        "give the small YAML file describing the bond",
                    )
                ],
                path,
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(
            [Problem("(file)", f"cannot read {path}: {exc.strerror}", "check the path")], path
        ) from None
    data = parse_yaml(raw, origin=path)
    private = (st.st_mode & 0o077) == 0
    return parse_config(data, sources(file_private=private, interactive=interactive), origin=path)


def window(bounds: tuple[int, int]) -> Callable[[str], int]:
    """An argparse type for a window flag: whole seconds within `bounds`, or a message with
    the range (argparse names the flag)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds "
                                             f"({bounds[0]}-{bounds[1]})") from None  # fmt: skip
        problem = proto.window_problem(value, bounds)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return parse


def add_window_flags(p: argparse.ArgumentParser) -> None:
    low, high = proto.CONFIRM_TIMEOUT_S
    p.add_argument("--confirm-timeout", type=window(proto.CONFIRM_TIMEOUT_S),
                   default=120, metavar="S",
                   help=f"seconds to confirm from the new address before the box rolls back "
                   f"(default: 120; {low}-{high})")  # fmt: skip
    low, high = proto.VERIFY_TIMEOUT_S
    p.add_argument("--verify-timeout", type=window(proto.VERIFY_TIMEOUT_S),
                   default=60, metavar="S",
                   help=f"seconds for the bond and its ports to come up before the box rolls "
                   f"back (default: 60; {low}-{high})")  # fmt: skip


def apply_options(args: argparse.Namespace) -> proto.Options:
    """The change's windows and auto-confirm, from apply/bond/undo flags (local or --host)."""
    options = proto.Options(confirm_timeout=args.confirm_timeout,
                            verify_timeout=args.verify_timeout,
                            auto_confirm=bool(getattr(args, "auto_confirm", False)))  # fmt: skip
    options.check()  # argparse checked the flags; this is for callers that built args by hand
    return options
