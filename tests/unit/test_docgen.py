"""Completions and the man page come from the parser: every command and option is in each,
and each shell accepts its script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tightrope.cli.docgen import GENERATORS, _commands, _options
from tightrope.cli.main import build_parser

PARSER = build_parser()


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_every_command_and_option_is_there(kind: str) -> None:
    text = GENERATORS[kind](PARSER)
    for name, sub in _commands(PARSER).items():
        assert name in text, (kind, name)
        for action in _options(sub):
            for opt in action.option_strings:
                flag = opt.lstrip("-") if kind == "fish" else opt
                if kind == "man":
                    flag = flag.replace("-", "\\-")
                assert flag in text, (kind, name, opt)


@pytest.mark.parametrize("shell,check", [("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"]),
                                         ("fish", ["fish", "-n"])])  # fmt: skip
def test_the_shell_accepts_its_script(tmp_path: Path, shell: str, check: list[str]) -> None:
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed (scripts/install-deps installs it)")
    script = tmp_path / f"tightrope.{shell}"
    script.write_text(GENERATORS[shell](PARSER))
    subprocess.run([*check, str(script)], check=True, timeout=30)


def test_bash_completes_commands_options_and_lab_actions(tmp_path: Path) -> None:
    script = tmp_path / "tightrope.bash"
    script.write_text(GENERATORS["bash"](PARSER))
    probe = (f"source {script}; "
             "COMP_WORDS=(tightrope dr); COMP_CWORD=1; _tightrope; echo ${COMPREPLY[@]}; "
             "COMP_WORDS=(tightrope drill --pi); COMP_CWORD=2; _tightrope; echo ${COMPREPLY[@]}; "
             "COMP_WORDS=(tightrope lab pull); COMP_CWORD=2; _tightrope; echo ${COMPREPLY[@]}")
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True,
                         timeout=30).stdout.splitlines()  # fmt: skip
    assert out == ["drill", "--picture", "pull-cable"]


def test_the_man_page_is_roff() -> None:
    text = GENERATORS["man"](PARSER)
    assert text.startswith(".TH TIGHTROPE 1 ")
    assert text.count(".SS ") == len(_commands(PARSER))
