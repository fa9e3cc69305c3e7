"""The edges of a command where secrets come in: the environment and PSK files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tightrope.cli import inputs
from tightrope.cli.main import main
from tightrope.core.config import parse_config
from tightrope.core.model import Secret
from tightrope.errors import ConfigError

PSK = "lab-only-passphrase"
VAR = "TIGHTROPE_TEST_PSK_ENV"


def wifi(**psk: str) -> dict[str, Any]:
    return {"ports": {"eth0": {"type": "ethernet"},
                      "wlan0": {"type": "wifi", "ssid": "TightropeLab", **psk}},
            "ipv4": {"addresses": ["198.18.1.64/24"]}}  # fmt: skip


def test_a_taken_variable_leaves_the_environment_and_stays_readable() -> None:
    environ = {"P": PSK, "HOME": "/root"}
    env = inputs.TakenEnv(environ)
    assert "P" in env and environ == {"P": PSK, "HOME": "/root"}  # asking is not taking
    assert env.get("P") == PSK and env["P"] == PSK
    assert environ == {"HOME": "/root"}
    assert env.get("MISSING") is None and list(env) == ["P"]
    assert PSK not in repr(env) and "P" in repr(env)


def test_psk_env_is_gone_from_the_process_before_any_child_starts() -> None:
    saved = os.environ.get(VAR)
    os.environ[VAR] = PSK
    try:
        config = parse_config(wifi(**{"psk-env": VAR}), inputs.sources(interactive=False))
        assert config.ports[1].psk == Secret(PSK)
        assert VAR not in os.environ
        child = subprocess.run([sys.executable, "-c", f"import os; print(os.environ.get({VAR!r}))"],
                               capture_output=True, text=True, check=True)  # fmt: skip
        assert child.stdout.strip() == "None"
        # Parsed again (a second port, a second look): still there, from the cache.
        again = parse_config(wifi(**{"psk-env": VAR}), inputs.sources(interactive=False))
        assert again.ports[1].psk == Secret(PSK)
        assert PSK not in repr(inputs.sources())
    finally:
        if saved is None:
            os.environ.pop(VAR, None)
        else:
            os.environ[VAR] = saved


def psk_file_problem(path: Path | str) -> tuple[str, str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(wifi(**{"psk-file": str(path)}), inputs.sources(interactive=False))
    (problem,) = caught.value.problems
    return problem.field, problem.message, problem.fix


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_a_psk_file_others_can_read_is_refused_naming_the_chmod(
    tmp_path: Path, mode: int
) -> None:
    path = tmp_path / "wlan0.psk"
    path.write_text(PSK + "\n")
    path.chmod(mode)
    field, message, fix = psk_file_problem(path)
    assert field == "ports.wlan0.psk-file"
    assert f"mode {mode:04o}" in message and fix == f"chmod 600 {path}"
    assert PSK not in message + fix


def test_a_psk_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)  # opening it must not wait for a writer
    for path in ("/dev/zero", str(tmp_path), str(fifo)):
        field, message, _fix = psk_file_problem(path)
        assert field == "ports.wlan0.psk-file" and "is not a regular file" in message


def test_a_psk_file_bigger_than_a_psk_can_be_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big"
    path.write_bytes(b"x" * (inputs.MAX_PSK_FILE_BYTES + 1))
    path.chmod(0o600)
    field, message, _fix = psk_file_problem(path)
    assert field == "ports.wlan0.psk-file" and "1025 bytes" in message


def test_a_psk_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe" * 8)
    path.chmod(0o600)
    assert "not UTF-8" in psk_file_problem(path)[1]


@pytest.mark.parametrize("content", [PSK, PSK + "\n", PSK + "\r\n", "a" * 64, "ab" * 32 + "\n"])
def test_a_private_psk_file_is_read(tmp_path: Path, content: str) -> None:
    path = tmp_path / "wlan0.psk"
    path.write_text(content)
    path.chmod(0o600)
    config = parse_config(wifi(**{"psk-file": str(path)}), inputs.sources(interactive=False))
    assert config.ports[1].psk == Secret(content.rstrip("\r\n"))


def test_the_bond_command_names_the_flag_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wlan0.psk"
    path.write_text(PSK)
    path.chmod(0o644)
    code = main(["bond", "--ethernet", "eth0", "--wifi", "wlan0", "--ssid", "TightropeLab",
                 "--psk-file", str(path), "--address", "198.18.1.64/24", "--plan"])  # fmt: skip
    err = "".join(capsys.readouterr().err.split())  # the terminal wraps long paths
    assert code == 3
    assert "--psk-file(portwlan0)" in err and f"chmod600{path}" in err
    assert PSK not in err


def test_a_config_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="problem") as caught:
        inputs.load_config_file("/dev/zero", interactive=False)
    assert "is not a regular file" in caught.value.problems[0].message
