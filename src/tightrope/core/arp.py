"""Does an address answer ARP? Pure parsers of what the box's tools print, and the frames
of our own duplicate-address probe.

`arping` (iputils) is the direct way; without it the kernel's neighbour table tells the same
after a packet made the kernel resolve the address (`ip neigh`: FAILED once its ARP probes,
three a second apart by default, went unanswered).
"""

from __future__ import annotations

import ipaddress
import re
import struct
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


ETH_P_ARP = 0x0806
_BROADCAST = b"\xff" * 6
# Ethernet, IPv4, 6-byte MACs, 4-byte addresses.
_ARP_HEAD = struct.pack("!HHBB", 1, 0x0800, 6, 4)
_REQUEST, _REPLY_OP = 1, 2


def probe_frame(mac: bytes, address: str) -> bytes:
    """An RFC 5227 ARP probe for `address` from `mac`, as an Ethernet broadcast frame: the
    sender's IP is 0.0.0.0, so no neighbour learns a mapping from it while it is asked."""
    target = ipaddress.IPv4Address(address).packed
    arp = _ARP_HEAD + struct.pack("!H", _REQUEST) + mac + bytes(4) + bytes(6) + target
    return _BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def claimed_by(frame: bytes, address: str, ours: frozenset[bytes]) -> bytes | None:
    """The MAC of another machine that this frame shows using `address` (RFC 5227 2.1.1: an
    ARP reply or request whose sender is `address`, or a probe of its own for it), None
    otherwise. `ours`: every MAC of this box, whose frames may come back to it (a bond's
    backup port hears the LAN's broadcasts)."""
    if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    arp = frame[14:42]
    if arp[:6] != _ARP_HEAD:
        return None
    (op,) = struct.unpack("!H", arp[6:8])
    sha, spa, tpa = arp[8:14], arp[14:18], arp[24:28]
    if op not in (_REQUEST, _REPLY_OP) or sha in ours:
        return None
    wanted = ipaddress.IPv4Address(address).packed
    if spa == wanted or (op == _REQUEST and spa == bytes(4) and tpa == wanted):
        return sha
    return None
