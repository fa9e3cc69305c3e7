"""The edges of a command: reading the config file, asking for a PSK, getting a snapshot."""

from __future__ import annotations

import argparse
import getpass
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping

from tightrope import proto
from tightrope.core.config import Refused, Sources, parse_config
from tightrope.core.model import BondConfig
from tightrope.core.yamltext import parse_yaml
from tightrope.errors import ConfigError, Problem

MAX_CONFIG_BYTES = 1 << 20  # a bond description is a few hundred bytes; refuse to slurp a disk
# A PSK is 8-63 characters or 64 hex digits, plus a newline; anything near 1 KiB is another
# file given by mistake, and is refused without being read.
MAX_PSK_FILE_BYTES = 1024


class TakenEnv(Mapping[str, str]):
    """The environment as a PSK source. A variable read is taken out of the process
    environment at once, so no child (ssh, ping, systemd-run...) inherits it, and kept here so
    a second read (two Wi-Fi ports, a config parsed again) still finds it."""

    def __init__(self, environ: MutableMapping[str, str]) -> None:
        self._environ = environ
        self._taken: dict[str, str] = {}

    def __getitem__(self, key: str) -> str:
        if key not in self._taken:
            self._taken[key] = self._environ.pop(key)
        return self._taken[key]

    def __contains__(self, key: object) -> bool:
        return key in self._taken or key in self._environ

    def __iter__(self) -> Iterator[str]:
        return iter(self._taken)  # only what was taken: the rest of the environment is not ours

    def __len__(self) -> int:
        return len(self._taken)

    def __repr__(self) -> str:
        return f"TakenEnv(taken={sorted(self._taken)})"


# One per process: the variable is gone from os.environ after the first read.
PSK_ENV = TakenEnv(os.environ)


def read_small_file(path: str, limit: int, what: str) -> tuple[bytes, os.stat_result]:
    """Open once, judge the open file (not the path, which may change meanwhile), read at most
    limit + 1 bytes. Raises Refused for what is not a regular file of at most `limit` bytes;
    OSError if it cannot be opened."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer (fstat refuses it just after).
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused("is not a regular file", f"give the path of {what}")
        if st.st_size > limit:
            raise Refused(f"is {st.st_size} bytes, more than {what} can be ({limit})",
                          f"give the path of {what}")  # fmt: skip
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, left)):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise Refused(f"grew past {limit} bytes while being read", f"give the path of {what}")
    return data, st


def read_psk_file(path: str) -> str:
    data, st = read_small_file(path, MAX_PSK_FILE_BYTES, "a file holding only the PSK")
    if st.st_mode & 0o077:
        raise Refused(f"is open to group or others (mode {stat.S_IMODE(st.st_mode):04o})",
                      f"chmod 600 {path}")  # fmt: skip
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("is not UTF-8 text", "give a file holding only the PSK") from None


def _prompt(ssid: str) -> str:
    return getpass.getpass(f"Wi-Fi passphrase for {ssid!r} (not echoed): ")


def sources(
    *, file_private: bool = True, interactive: bool | None = None, resolve_psk: bool = True
) -> Sources:
    if interactive is None:
        interactive = sys.stdin.isatty()
    return Sources(
        env=PSK_ENV,
        read_file=read_psk_file,
        prompt=_prompt if interactive else None,
        file_private=file_private,
        resolve_psk=resolve_psk,
    )


def load_config_file(path: str, *, interactive: bool | None = None) -> BondConfig:
    what = "the small YAML file describing the bond"
    try:
        raw, st = read_small_file(path, MAX_CONFIG_BYTES, what)
    except Refused as exc:
        raise ConfigError([Problem("(file)", f"{path} {exc.message}", exc.fix)], path) from None
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
    options = proto.Options(
        confirm_timeout=args.confirm_timeout,
        verify_timeout=args.verify_timeout,
        auto_confirm=bool(getattr(args, "auto_confirm", False)),
        verify_all_ports=bool(getattr(args, "verify_all_ports", False)),
    )
    options.check()  # argparse checked the flags; this is for callers that built args by hand
    return options
