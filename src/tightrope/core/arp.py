"""Does an address answer ARP? Pure parsers of what the box's tools print.

`arping` (iputils) is the direct way; without it the kernel's neighbour table tells the same
after a packet made the kernel resolve the address (`ip neigh`: FAILED once its ARP probes,
three a second apart by default, went unanswered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REPLY = re.compile(r"^Unicast reply from (?P<ip>\S+) \[(?P<mac>[0-9A-Fa-f:]{17})\]", re.M)
_SENT = re.compile(r"^Sent (?P<n>\d+) probes?", re.M)
_RECEIVED = re.compile(r"^Received (?P<n>\d+) response", re.M)

# ip-neighbour(8) states that mean an ARP reply came at some point.
_ANSWERED_STATES = frozenset({"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"})


@dataclass(frozen=True)
class ArpResult:
    sent: int
    received: int
    macs: tuple[str, ...] = ()  # who answered, lower case, in order of first reply

    @property
    def answered(self) -> bool:
        return self.received > 0 or bool(self.macs)


def parse_arping(text: str) -> ArpResult | None:
    """iputils `arping` output -> what was sent and who answered; None if it is not arping's
    summary (an error message, another arping)."""
    sent, received = _SENT.search(text), _RECEIVED.search(text)
    if sent is None or received is None:
        return None
    macs: list[str] = []
    for m in _REPLY.finditer(text):
        mac = m["mac"].lower()
        if mac not in macs:
            macs.append(mac)
    return ArpResult(int(sent["n"]), int(received["n"]), tuple(macs))


def parse_neigh_state(text: str, address: str) -> str | None:
    """`ip -4 neigh show to ADDRESS dev IFACE` -> the entry's state (FAILED, REACHABLE,
    INCOMPLETE, ...), None when there is no entry. An entry may carry several states
    (`STALE` with a flag word after it); the last upper-case word is the state."""
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] != address:
            continue
        states = [w for w in words[1:] if w.isupper() and w.isalpha()]
        return states[-1] if states else None
    return None


def neigh_answered(state: str | None) -> bool | None:
    """True: the address answered ARP; False: it did not (FAILED); None: cannot tell yet."""
    if state is None or state in ("INCOMPLETE", "NONE"):
        return None
    if state == "FAILED":
        return False
    return True if state in _ANSWERED_STATES else None
