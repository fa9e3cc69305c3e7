"""ARP frames for our own probes through a packet socket (txn/arpsock): pure.

Two questions are asked with them: does the gateway answer (a request, as arping sends), and
does another machine use our static address (an RFC 5227 probe). One implementation for both,
and no dependency on a tool most boxes lack (iputils-arping; the kernel's neighbour table,
the fallback before, once lost a FAILED entry to its garbage collector between two looks).
"""

from __future__ import annotations

import ipaddress
import struct

ETH_P_ARP = 0x0806
_BROADCAST = b"\xff" * 6
# Ethernet, IPv4, 6-byte MACs, 4-byte addresses.
_ARP_HEAD = struct.pack("!HHBB", 1, 0x0800, 6, 4)
_REQUEST, _REPLY_OP = 1, 2


def request_frame(mac: bytes, address: str, sender: str = "0.0.0.0") -> bytes:
    """An ARP request for `address` from `mac` and `sender`, as an Ethernet broadcast frame.
    With sender 0.0.0.0 it is an RFC 5227 probe: no neighbour learns a mapping from it."""
    target = ipaddress.IPv4Address(address).packed
    spa = ipaddress.IPv4Address(sender).packed
    arp = _ARP_HEAD + struct.pack("!H", _REQUEST) + mac + spa + bytes(6) + target
    return _BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def probe_frame(mac: bytes, address: str) -> bytes:
    """The RFC 5227 probe for `address`: the duplicate-address question."""
    return request_frame(mac, address)


def sent_by(frame: bytes, address: str, ours: frozenset[bytes]) -> bytes | None:
    """The MAC of the machine that sent this ARP reply or request as `address` (the answer
    a request for it waits for), None otherwise. `ours`: every MAC of this box, whose frames
    may come back to it (a bond's backup port hears the LAN's broadcasts)."""
    fields = _fields(frame, ours)
    if fields is None:
        return None
    _, sha, spa, _ = fields
    return sha if spa == ipaddress.IPv4Address(address).packed else None


def claimed_by(frame: bytes, address: str, ours: frozenset[bytes]) -> bytes | None:
    """The MAC of another machine that this frame shows using `address` (RFC 5227 2.1.1: an
    ARP reply or request whose sender is `address`, or a probe of its own for it), None
    otherwise."""
    fields = _fields(frame, ours)
    if fields is None:
        return None
    op, sha, spa, tpa = fields
    wanted = ipaddress.IPv4Address(address).packed
    if spa == wanted or (op == _REQUEST and spa == bytes(4) and tpa == wanted):
        return sha
    return None


def _fields(frame: bytes, ours: frozenset[bytes]) -> tuple[int, bytes, bytes, bytes] | None:
    """(op, sender MAC, sender IP, target IP) of an IPv4-over-Ethernet ARP request or reply
    that is not our own; None for anything else."""
    if len(frame) < 42 or frame[12:14] != struct.pack("!H", ETH_P_ARP):
        return None
    arp = frame[14:42]
    if arp[:6] != _ARP_HEAD:
        return None
    (op,) = struct.unpack("!H", arp[6:8])
    sha, spa, tpa = arp[8:14], arp[14:18], arp[24:28]
    if op not in (_REQUEST, _REPLY_OP) or sha in ours:
        return None
    return op, sha, spa, tpa
