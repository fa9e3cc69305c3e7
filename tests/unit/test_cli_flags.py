"""`tightrope bond` flags speak netplan's YAML names, keep the kernel's as aliases, show their
defaults one way, and a flag-mode error gives flag advice (issue 14 item 6)."""

from __future__ import annotations

import argparse
import re

import pytest

from tightrope.cli.cmd_bond import flags_to_data
from tightrope.cli.docgen import GENERATORS
from tightrope.cli.main import build_parser, main
from tightrope.errors import Exit

PARSER = build_parser()
BASE = ["bond", "--ethernet", "eth0", "--wifi", "wlan0", "--ssid", "HomeWiFi", "--psk-env",
        "TR_TEST_PSK", "--address", "198.18.1.64/24", "--gateway", "198.18.1.1"]  # fmt: skip
# (netplan's name, the kernel's alias, a value)
RENAMED = [
    ("--mii-monitor-interval", "--miimon", "200"),
    ("--up-delay", "--updelay", "400"),
    ("--down-delay", "--downdelay", "200"),
    ("--fail-over-mac-policy", "--fail-over-mac", "active"),
    ("--gratuitous-arp", "--num-grat-arp", "5"),
    ("--peer-notify-delay", "--peer-notif-delay", "400"),
]


def _all_actions(parser: argparse.ArgumentParser, name: str = "tightrope",
                 ) -> list[tuple[str, argparse.Action]]:  # fmt: skip
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub_name, sub in a.choices.items():
                out += _all_actions(sub, f"{name} {sub_name}")
        elif a.option_strings and a.help is not argparse.SUPPRESS:
            out.append((name, a))
    return out


@pytest.mark.parametrize("netplan, kernel, value", RENAMED)
def test_netplan_names_and_kernel_aliases_give_the_same_config(netplan: str, kernel: str,
                                                              value: str) -> None:  # fmt: skip
    by_netplan = flags_to_data(PARSER.parse_args([*BASE, netplan, value]))
    by_kernel = flags_to_data(PARSER.parse_args([*BASE, kernel, value]))
    assert by_netplan == by_kernel
    key = netplan.lstrip("-")
    assert str(by_netplan["parameters"][key]) == value  # the flag is the YAML key


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_completion_and_man_page_list_both_names(kind: str) -> None:
    text = GENERATORS[kind](PARSER)
    for netplan, kernel, _ in RENAMED:
        for flag in (netplan, kernel):
            flag = flag.lstrip("-") if kind == "fish" else flag
            assert (flag.replace("-", "\\-") if kind == "man" else flag) in text, (kind, flag)


def test_help_shows_netplan_name_first_with_the_alias() -> None:
    sub = next(a for a in PARSER._actions if a.dest == "command")
    text = sub.choices["bond"].format_help()
    for netplan, kernel, _ in RENAMED:
        # "--up-delay MS, --updelay MS": the YAML's name first, the kernel's after it.
        assert re.search(rf"{netplan}(?![\w-])[^,\n]*, {kernel}(?![\w-])", text), netplan


def test_every_default_is_shown_the_same_way() -> None:
    """One convention, "(default: X)": every option with a default says it so, and no help
    says a default another way ("(100)", "(default bond0)")."""
    missing, odd = [], []
    for name, a in _all_actions(PARSER):
        help_text = a.help or ""
        trivial = a.default in (None, [], argparse.SUPPRESS) or isinstance(a.default, bool)
        if not trivial and "(default: " not in help_text:
            missing.append(f"{name} {a.option_strings[0]}: {help_text!r}")
        if re.search(r"\(default [^:]|\(default:\S", help_text) or (
                not trivial and f"({a.default})" in help_text):
            odd.append(f"{name} {a.option_strings[0]}: {help_text!r}")
    assert not missing and not odd, (missing, odd)


# Bad flag combinations and the advice each must give (in flags, never in YAML).
FLAG_MISTAKES = [
    (["bond", "--address", "198.18.1.64/24", "--gateway", "198.18.1.1"], "--ethernet eth0"),
    (["bond", "--ethernet", "eth0"], "--address 192.168.1.64/24`, or `--dhcp"),
    (["bond", "--ethernet", "eth0", "--gateway", "198.18.1.1"], "--address 192.168.1.64/24"),
    (["bond", "--ethernet", "eth0", "--wifi", "wlan0", "--address", "198.18.1.64/24",
      "--gateway", "198.18.1.1"], "--ssid HomeWiFi"),
    ([*BASE, "--up-delay", "150"], "--mii-monitor-interval"),
    ([*BASE, "--fail-over-mac-policy", "none"], "--fail-over-mac-policy active"),
    ([*BASE, "--mode", "balance-rr"], "use --mode active-backup"),
    (["bond", "--ethernet", "eth0", "--dhcp", "--address", "198.18.1.64/24",
      "--dhcp-identifier", "mac", "--gateway", "198.18.1.1"], "--dhcp"),
]  # fmt: skip


@pytest.mark.parametrize("argv, advice", FLAG_MISTAKES)
def test_a_flag_mistake_gets_flag_advice(argv: list[str], advice: str,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("TR_TEST_PSK", "198-18-test-passphrase")
    code = main([*argv, "--print-config", "-"])
    err = capsys.readouterr().err
    assert code == Exit.INVALID, err
    assert "the command line" in err and advice in err, err
    # No YAML key in backticks (`ports:`, `dhcp: true`), no YAML-only advice.
    assert not re.search(r"`[a-z0-9-]+:", err), err
    assert "under `ports" not in err and "dhcp: true" not in err, err


def test_each_command_is_found_in_the_module_that_registers_it() -> None:
    """main._MODULE_OF lets `tightrope status` import only cmd_status; it must name every
    command, each in its own module, or a command would parse differently on its own."""
    import importlib

    from tightrope.cli import main as cli_main

    seen: dict[str, str] = {}
    for module in cli_main._COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        seen.update(dict.fromkeys(sub.choices, module))
    assert seen == cli_main._MODULE_OF
    # Built for one command, the parser reads its arguments as the whole parser does.
    argv = ["status", "--json", "--host", "pi@198.18.1.50"]
    assert vars(cli_main.build_parser("status").parse_args(argv)) == vars(PARSER.parse_args(argv))


def test_status_starts_without_the_planning_and_protocol_modules() -> None:
    """`tightrope status` on a box is measured against `nmcli device status`: what it runs
    must not import the plan, the model's validation, the protocol's classes or the
    transaction engine (each costs a Pi tenths of a second building dataclasses)."""
    import subprocess
    import sys

    code = ("import sys; import tightrope.cli.cmd_status, tightrope.box.glance, "
            "tightrope.box.env, tightrope.cli.render, tightrope.nm; "
            "print(' '.join(sorted(sys.modules)))")  # fmt: skip
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())  # fmt: skip
    heavy = {"tightrope.proto", "tightrope.core.plan", "tightrope.core.model",
             "tightrope.core.drill", "tightrope.txn.control", "tightrope.txn.resume",
             "tightrope.txn.steps", "tightrope.box.app", "yaml"}  # fmt: skip
    assert loaded & heavy == set()
    # Nor rich, whose console and table alone cost a Pi half a second: status prints plain
    # text. Run whole, as `tightrope status` runs, since rich would only be imported lazily.
    from pathlib import Path

    snapshot = Path(__file__).parents[1] / "fixtures" / "snapshots" / "bonded.json"
    code = ("import sys; from tightrope.cli.main import main; "
            f"main(['status', '--from-snapshot', {str(snapshot)!r}]); "
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")  # fmt: skip
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)  # fmt: skip
    loaded = set(ran.stderr.split())
    assert "bond0" in ran.stdout and "tightrope.cli.render" in loaded
    assert {m for m in loaded if m.split(".")[0] == "rich"} | (loaded & heavy) == set()


def test_the_agent_starts_without_the_transaction_engine() -> None:
    """The agent's start is on the journey's critical path (the laptop waits for it, at the
    old address and again at the new one); the engine is the detached runner's to import."""
    import subprocess
    import sys

    code = "import sys; import tightrope.box.agent; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())  # fmt: skip
    engine = {"tightrope.txn.runner", "tightrope.txn.engine", "tightrope.txn.steps",
              "tightrope.txn.verify_step", "tightrope.txn.netplan_commit", "tightrope.nm.writer"}
    assert loaded & engine == set()
    # Nor the plan and the model: the agent at the new address only confirms (the one at the
    # old address imports them with its first plan).
    planning = {"tightrope.core.plan", "tightrope.core.model", "tightrope.core.config",
                "tightrope.core.drill", "yaml"}
    assert loaded & planning == set()


def test_the_runner_takes_its_secrets_before_importing_the_engine() -> None:
    """The agent that starts a change waits at the runner's FIFO: the runner's entry reads it
    with the state store alone, and imports the engine (and the plan) afterwards."""
    import subprocess
    import sys

    code = "import sys; import tightrope.box.run; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.split())  # fmt: skip
    later = {"tightrope.proto", "tightrope.txn.runner", "tightrope.txn.control",
             "tightrope.core.plan", "tightrope.nm", "dbus_fast", "yaml"}
    assert loaded & later == set()


def test_the_store_and_the_protocol_agree_on_a_transaction_id() -> None:
    from tightrope import proto
    from tightrope.core.ids import TXN_ID

    assert TXN_ID.pattern == proto.TXN_ID.pattern
