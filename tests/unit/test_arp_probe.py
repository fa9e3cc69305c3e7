"""Our ARP frames (core/arp) and this box's MACs (txn/arpsock): pure."""

from __future__ import annotations

import struct
from pathlib import Path

from tightrope.core.arp import ETH_P_ARP, claimed_by, probe_frame, request_frame, sent_by
from tightrope.txn.arpsock import our_macs

OURS = bytes.fromhex("525400180132")
LAPTOP = bytes.fromhex("5254001801aa")
ADDRESS = "198.18.1.10"


def _arp(op: int, sha: bytes, spa: str, tpa: str, dst: bytes = b"\xff" * 6) -> bytes:
    def ip(a: str) -> bytes:
        return bytes(int(x) for x in a.split("."))

    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip(spa) + bytes(6) + ip(tpa)
    return dst + sha + struct.pack("!H", ETH_P_ARP) + body


def test_the_probe_is_a_broadcast_request_with_no_sender_address() -> None:
    frame = probe_frame(OURS, ADDRESS)
    assert frame == _arp(1, OURS, "0.0.0.0", ADDRESS)
    assert len(frame) == 42 and frame[:6] == b"\xff" * 6


def test_another_machine_answering_or_probing_claims_the_address() -> None:
    mine = frozenset({OURS})
    assert claimed_by(_arp(2, LAPTOP, ADDRESS, "0.0.0.0", dst=OURS), ADDRESS, mine) == LAPTOP
    assert claimed_by(_arp(1, LAPTOP, ADDRESS, "198.18.1.1"), ADDRESS, mine) == LAPTOP
    assert claimed_by(_arp(1, LAPTOP, "0.0.0.0", ADDRESS), ADDRESS, mine) == LAPTOP


def test_our_own_frames_and_other_addresses_claim_nothing() -> None:
    mine = frozenset({OURS})
    # Our probe or NetworkManager's announcement, heard back through the bond's other port.
    assert claimed_by(probe_frame(OURS, ADDRESS), ADDRESS, mine) is None
    assert claimed_by(_arp(1, OURS, ADDRESS, ADDRESS), ADDRESS, mine) is None
    assert claimed_by(_arp(2, LAPTOP, "198.18.1.11", "0.0.0.0"), ADDRESS, mine) is None
    assert claimed_by(_arp(1, LAPTOP, "198.18.1.11", "198.18.1.1"), ADDRESS, mine) is None
    ipv4 = bytearray(_arp(2, LAPTOP, ADDRESS, "0.0.0.0"))
    ipv4[12:14] = b"\x08\x00"
    assert claimed_by(bytes(ipv4), ADDRESS, mine) is None
    assert claimed_by(b"\x00" * 20, ADDRESS, mine) is None


def test_our_macs_are_read_from_sysfs(tmp_path: Path) -> None:
    for name, text in (("eth0", "52:54:00:18:01:32\n"), ("lo", "00:00:00:00:00:00\n"),
                       ("wg0", "\n"), ("ib0", "80:00:00:48:fe:80:00:00:00:00:00:00\n")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(text)
    assert our_macs(tmp_path) == frozenset({OURS, bytes(6)})


GATEWAY = "198.18.1.1"


def test_the_gateway_request_carries_our_address() -> None:
    assert request_frame(OURS, GATEWAY, "198.18.1.64") == _arp(1, OURS, "198.18.1.64", GATEWAY)


def test_only_the_gateway_itself_answers_for_it() -> None:
    mine = frozenset({OURS})
    reply = _arp(2, LAPTOP, GATEWAY, "198.18.1.64", dst=OURS)
    assert sent_by(reply, GATEWAY, mine) == LAPTOP
    assert sent_by(_arp(1, LAPTOP, GATEWAY, "198.18.1.9"), GATEWAY, mine) == LAPTOP
    # Another machine's probe for the gateway's address, our own request heard back, and
    # a reply from someone else are no answer.
    assert sent_by(_arp(1, LAPTOP, "0.0.0.0", GATEWAY), GATEWAY, mine) is None
    assert sent_by(request_frame(OURS, GATEWAY, "198.18.1.64"), GATEWAY, mine) is None
    assert sent_by(_arp(2, LAPTOP, "198.18.1.9", "198.18.1.64"), GATEWAY, mine) is None
    assert sent_by(b"\x00" * 20, GATEWAY, mine) is None
