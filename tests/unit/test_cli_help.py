"""Every command says what it is for, shows an example, and documents its --json."""

from __future__ import annotations

import argparse

from tightrope.cli.main import build_parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert isinstance(sub.choices, dict)
    return sub.choices


def test_every_command_has_a_description_and_an_example() -> None:
    for name, parser in _commands().items():
        assert parser.description, name
        assert parser.epilog and f"tightrope {name}" in parser.epilog, name


def test_every_json_flag_is_documented() -> None:
    for name, parser in _commands().items():
        for action in parser._actions:
            if "--json" in action.option_strings:
                assert action.help, name
