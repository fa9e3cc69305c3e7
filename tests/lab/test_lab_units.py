"""Pure parts of the lab (no VM): the ping parser, addressing, the QEMU command line."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tightrope.lab import BoxSpec, parse_ping
from tightrope.lab.image import Image, recipe_digest
from tightrope.lab.qemu import BoxFiles, qemu_argv

LAB_NET = ipaddress.ip_network("198.18.0.0/15")

PING = """\
PING 198.18.1.64 (198.18.1.64) 56(84) bytes of data.
[1000.000500] 64 bytes from 198.18.1.64: icmp_seq=1 ttl=64 time=0.500 ms
[1000.010500] 64 bytes from 198.18.1.64: icmp_seq=2 ttl=64 time=0.500 ms
[1000.020000] no answer yet for icmp_seq=3
[1000.030000] no answer yet for icmp_seq=4
[1000.040000] no answer yet for icmp_seq=5
[1000.050700] 64 bytes from 198.18.1.64: icmp_seq=6 ttl=64 time=0.700 ms
[1000.050800] 64 bytes from 198.18.1.64: icmp_seq=6 ttl=64 time=0.800 ms (DUP!)
[1000.060500] 64 bytes from 198.18.1.64: icmp_seq=7 ttl=64 time=0.500 ms

--- 198.18.1.64 ping statistics ---
7 packets transmitted, 4 received, +1 duplicates, 42.8571% packet loss, time 60ms
"""


def test_parse_ping_counts_losses_and_the_longest_silence() -> None:
    res = parse_ping(PING, "198.18.1.64", 0.01)
    assert res.transmitted == 7
    assert res.received == 4
    assert res.lost == [3, 4, 5]
    assert res.longest_gap_ms() == pytest.approx(40.2)
    assert res.outage_ms() == pytest.approx(30.2)
    assert res.first_reply_after(1000.02) == pytest.approx(1000.0507)


def test_parse_ping_with_no_reply_at_all_spans_the_whole_run() -> None:
    text = "".join(f"[{100 + i / 100:.6f}] no answer yet for icmp_seq={i}\n" for i in range(1, 101))
    res = parse_ping(text, "x", 0.01)
    assert res.received == 0 and len(res.lost) == 100
    assert res.longest_gap_ms() == pytest.approx(990, abs=0.5)


def test_parse_ping_of_a_clean_stream_has_no_outage() -> None:
    text = "".join(
        f"[{200 + i / 100:.6f}] 64 bytes from 198.18.1.50: icmp_seq={i} ttl=64 time=0.3 ms\n"
        for i in range(1, 51)
    )
    res = parse_ping(text, "x", 0.01)
    assert res.lost == []
    assert res.outage_ms() < 1


def test_box_addresses_are_lab_only_and_distinct() -> None:
    specs = [BoxSpec(i) for i in range(5)]
    ips = [ip for s in specs for ip in (s.eth0_ip, s.wlan0_ip)]
    assert len(set(ips)) == len(ips)
    assert all(ipaddress.ip_address(ip) in LAB_NET for ip in ips)
    macs = [m for s in specs for m in (s.eth0_mac, s.uplink_mac, s.wlan0_mac)]
    assert len(set(macs)) == len(macs)
    with pytest.raises(ValueError):
        BoxSpec(0, "ubuntu")


def test_qemu_has_no_user_networking_and_two_taps(tmp_path: Path) -> None:
    spec = BoxSpec(1, "rpios")
    argv = qemu_argv(spec, Image(tmp_path), BoxFiles(tmp_path, tmp_path, spec.name), "tcg", "trl-x")
    assert "-nodefaults" in argv
    netdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert [n.split(",")[0] for n in netdevs] == ["tap", "tap"]
    assert "tcg,thread=multi" in argv
    append = argv[argv.index("-append") + 1]
    assert "trl.state=rpios" in append and "trl.eth0=198.18.1.60/24" in append


def test_recipe_digest_is_stable() -> None:
    assert recipe_digest() == recipe_digest()
    assert len(recipe_digest()) == 16
