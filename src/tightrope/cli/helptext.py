"""What each command is for and one example of it, in one place (its --help, and later the
man page and completions, read them from the parser)."""

from __future__ import annotations

import argparse
import textwrap

PI = "pi@192.168.1.50"

TEXTS: dict[str, tuple[str, str]] = {
    "bond": (
        "The seed's whole job as one command: join an Ethernet and a Wi-Fi port into an "
        "active-backup bond on a static address, as a confirmed transaction (plan, consent, "
        "apply; with --host: follow the box to its new address and confirm there).",
        "tightrope bond --ethernet eth0 --wifi wlan0 --ssid HomeWiFi --address "
        f"192.168.1.64/24 --gateway 192.168.1.1 --host {PI}",
    ),
    "plan": (
        "Show what applying CONFIG would change, and why, before anything does. Exit 0: "
        "nothing to change; 10: changes are needed.",
        f"tightrope plan bond.yaml --host {PI}",
    ),
    "apply": (
        "Apply CONFIG (the YAML `tightrope bond --print-config` writes) as a transaction "
        "guarded by a NetworkManager checkpoint: it rolls back by itself unless confirmed.",
        f"tightrope apply bond.yaml --host {PI}",
    ),
    "confirm": (
        "Commit the pending transaction. Run it from the new address: that you can is the "
        "proof the new network works.",
        "tightrope confirm --host pi@192.168.1.64",
    ),
    "rollback": (
        "Abort the pending transaction now, in whatever phase it is.",
        f"tightrope rollback --host {PI}",
    ),
    "undo": (
        "Restore the exact state before a committed change (profiles and netplan files, byte "
        "for byte), itself as a confirmed transaction; with --host the box is followed back "
        "to its old address and confirmed there.",
        "tightrope undo --host pi@192.168.1.64",
    ),
    "log": (
        "List the transactions (outcome, reason), or show one transaction's steps.",
        f"tightrope log 20261129-203745-61b9 --host {PI}",
    ),
    "watch": (
        "Live bond, link, Wi-Fi, address and transaction events, until Ctrl-C or --seconds.",
        f"tightrope watch --host {PI} --json",
    ),
    "drill": (
        "Failover drill: take the active port down for --seconds (a guard on the box brings it "
        "back even if tightrope dies), probe the gateway meanwhile and report the outage and "
        "which monitor noticed. --fault path drops the port's traffic with its link kept up "
        "instead (a dead path, which only the ARP monitor notices).",
        "tightrope drill --host pi@192.168.1.64 --picture failover.png",
    ),
    "status": (
        "The box's bonds, ports, devices and what claims them, where its profiles are stored, "
        "any pending change and how the last one ended.",
        f"tightrope status --host {PI}",
    ),
    "lab": (
        "A Debian VM box with NetworkManager, eth0 and wlan0, wired to a LAN and a laptop in "
        "network namespaces, to rehearse on (docs/lab.md). Needs root (re-runs through sudo).",
        "tightrope lab demo",
    ),
    "completion": (
        "Shell completion for bash, zsh or fish, or the man page, generated from this very "
        "parser.",
        "tightrope completion bash > /etc/bash_completion.d/tightrope",
    ),
}

JSON_HELP = "print one JSON document instead of the table (documented in README)"


def describe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Give every command its description, an example, and help for its --json."""
    for name, parser in sub.choices.items():
        text, example = TEXTS.get(name, (parser.description or "", ""))
        # Raw formatting keeps the example's line as typed; the description is wrapped here.
        parser.description = textwrap.fill(text, 78)
        if example:
            parser.epilog = f"example:\n  {example}"
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
        for action in parser._actions:
            if "--json" in action.option_strings and not action.help:
                action.help = JSON_HELP
