"""User mistakes end in a message and a documented exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tightrope.cli.main import main
from tightrope.errors import Exit

FLAGS = ["bond", "--ethernet", "eth0", "--wifi", "wlan0", "--ssid", "Home[/]Net",
         "--psk-env", "TR_TEST_NO_SUCH_VAR", "--address", "198.18.1.64/24",
         "--gateway", "198.18.1.1"]  # fmt: skip


def test_print_config_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    there = tmp_path / "bond.yaml"
    there.write_text("mine\n")
    assert main([*FLAGS, "--print-config", str(there)]) == Exit.USAGE
    err = capsys.readouterr().err
    assert "already exists" in err and "Traceback" not in err
    assert there.read_text() == "mine\n"


def test_a_file_that_cannot_be_written_is_named(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = tmp_path / "no-such-dir" / "bond.yaml"
    assert main([*FLAGS, "--print-config", str(nowhere)]) == Exit.FAILED
    err = capsys.readouterr().err
    assert str(nowhere) in err and "No such file or directory" in err
    assert "Traceback" not in err


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line (`| head -0`)
    try:
        proc = subprocess.run([sys.executable, "-m", "tightrope", *FLAGS, "--print-config", "-"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=60,
                              check=False)  # fmt: skip
    finally:
        os.close(write)
    assert proc.returncode == Exit.FAILED
    assert proc.stderr == ""


def test_verbose_shows_the_ssh_commands_made() -> None:
    """-v names each ssh call (to loopback's closed port 9 here: refused at once)."""
    proc = subprocess.run([sys.executable, "-m", "tightrope", "-v", "status", "--host",
                           "root@127.0.0.1", "--ssh-config", "/dev/null", "--ssh-option",
                           "Port=9"], capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert proc.returncode == Exit.NM_UNREACHABLE, proc.stderr
    # The first is the agent's session itself (a box that is ready needs no preflight).
    assert "tightrope -v: ssh (agent session): ssh " in proc.stderr
    assert "127.0.0.1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_verbose_lines_are_printable() -> None:
    """A screen clear in what the user typed is logged without its escape (issue 14 item 2)."""
    proc = subprocess.run([sys.executable, "-m", "tightrope", "-v", "status", "--host",
                           "root@127.0.0.1", "--ssh-config", "/dev/null", "--ssh-option",
                           "Port=9", "--ssh-option", "ServerAliveCountMax=3\x1b[2J"],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert "tightrope -v: ssh (agent session): " in proc.stderr
    assert "ServerAliveCountMax=3" in proc.stderr
    assert "\x1b" not in proc.stderr and "Traceback" not in proc.stderr


# (argv, exit code): each refused before anything is touched, with a message and no traceback.
BAD_INPUTS = [
    (["drill", "--seconds", "nan"], Exit.USAGE),
    (["drill", "--interval-ms", "0"], Exit.USAGE),
    (["watch", "--seconds", "-1"], Exit.USAGE),
    (["plan", "/nonexistent.yaml"], Exit.INVALID),
    (["apply", "/nonexistent.yaml", "--confirm-timeout", "0"], Exit.USAGE),
    (["undo", "../../etc"], Exit.USAGE),
    (["log", "../x"], Exit.USAGE),
    (["confirm", "20261129-xx"], Exit.USAGE),
    (["status", "--from-snapshot", "/nonexistent"], Exit.USAGE),
    (["status", "--from-snapshot", "/dev/zero"], Exit.USAGE),
    ([*FLAGS[:7], "--psk-file", "/dev/zero", "--address", "198.18.1.64/24", "--plan"],
     Exit.INVALID),
    (["bond", "--ethernet", "eth0", "--address", "198.18.1.999/24"], Exit.INVALID),
    (["plan", "b.yaml", "--host", "-oProxyCommand=x"], Exit.USAGE),
    (["status", "--host", "root@198.18.1.50:99999"], Exit.USAGE),
    (["completion", "tcsh"], Exit.USAGE),
    (["drill", "--picture", "out.bmp", "--seconds", "1"], Exit.USAGE),
]


@pytest.mark.parametrize("argv,code", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_a_bad_input_is_refused_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str], argv: list[str],
                                        code: Exit) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # where a relative path in argv would land
    try:
        got = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        got = int(exc.code or 0)
    err = capsys.readouterr().err
    assert got == code, err
    assert "Traceback" not in err and err.strip()
