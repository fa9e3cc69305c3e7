"""The apply outage by echo (remote.echo): the formula the journey and the benchmarks share,
the packets, and a real echo on loopback."""

from __future__ import annotations

import struct
import time

import pytest

from tightrope.remote import identity as ident
from tightrope.remote.echo import EchoWatch, checksum, echo_request, is_reply, outage_s


def test_outage_is_the_silence_between_the_old_address_s_last_reply_and_the_new_s_first() -> None:
    old = [0.00, 0.02, 0.04, 0.06]
    new = [1.06, 1.08]
    assert outage_s(old, new, 0.02) == 0.98  # 1.00 s of silence less one probe interval
    # Overlap (the old still answered when the new began to): no outage.
    assert outage_s([0.0, 0.98, 1.0, 1.02], [0.99, 1.01], 0.02) == 0.0
    # The old address came back after the new one answered: it does not shorten the outage.
    assert outage_s([0.0, 5.0], [2.02], 0.02) == 2.0


def test_an_outage_nobody_could_see_is_not_a_figure() -> None:
    assert outage_s([0.0, 0.02], [], 0.02) is None  # the new address never answered
    assert outage_s([], [1.0], 0.02) is None  # nothing answered at the old one
    assert outage_s([3.0], [1.0], 0.02) is None  # the old answered only after the new


def test_echo_request_carries_a_valid_checksum() -> None:
    packet = echo_request(0x1234, 7)
    assert packet[0] == 8 and struct.unpack("!HH", packet[4:8]) == (0x1234, 7)
    assert checksum(packet) == 0  # a packet with its checksum in sums to zero


def test_replies_are_told_apart_from_other_icmp() -> None:
    reply = bytes([0, 0, 0, 0]) + struct.pack("!HH", 0x1234, 7)
    ip_header = bytes([0x45]) + bytes(19)
    assert is_reply(reply, raw=False, ident=0x1234)
    assert is_reply(ip_header + reply, raw=True, ident=0x1234)
    assert not is_reply(ip_header + reply, raw=True, ident=0x9999)  # someone else's ping
    assert not is_reply(ip_header + bytes([3, 1]) + bytes(6), raw=True, ident=0x1234)
    assert not is_reply(b"\0\0", raw=False, ident=1)


def test_the_box_is_echoed_only_where_ssh_goes_to_it_straight() -> None:
    base = ident.parse_ssh_g("hostname 198.18.1.50\nport 22\nuser root\n")
    assert ident.direct_address(base) == "198.18.1.50"
    jump = ident.parse_ssh_g("hostname 198.18.1.50\nproxyjump bastion\n")
    assert ident.direct_address(jump) is None
    proxy = ident.parse_ssh_g("hostname 198.18.1.50\nproxycommand nc %h %p\n")
    assert ident.direct_address(proxy) is None
    assert ident.direct_address(ident.parse_ssh_g("hostname pi.local\n")) is None


def test_a_real_echo_on_loopback() -> None:
    watch = EchoWatch(["127.0.0.1"])
    if not watch.measuring:
        pytest.skip("this user may not send ICMP here")
    try:
        end = time.monotonic() + 5
        while not watch.replies["127.0.0.1"] and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        watch.stop()
    assert watch.replies["127.0.0.1"]
