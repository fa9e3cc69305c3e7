"""The apply outage as the laptop feels it: ICMP echo every 20 ms to the box's old and new
addresses while the journey follows the box; the outage is the silence between the old
address's last reply and the new address's first. The same method and formula as the
benchmarks' `ping -i 0.02` (bench/journey.py), so the journey's report and docs/benchmarks.md
give one figure.

An SSH probe cannot tell this: it connects about once a second and takes seconds to fail.
Echo needs no root where the kernel lets users open ICMP datagram sockets
(net.ipv4.ping_group_range, open to all users on systemd's defaults), and a raw socket as
root; without either, or through a jump host (the box's addresses may not be routable from
here), the outage is not measured rather than guessed.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence

INTERVAL_S = 0.02
_ECHO_REQUEST, _ECHO_REPLY = 8, 0


def outage_s(
    old: Sequence[float], new: Sequence[float], interval: float = INTERVAL_S
) -> float | None:
    """Pure: old, new: when each address answered (one clock). The silence between the last
    reply from the old address before the new one's first reply and that first reply, less
    one probe interval (an unbroken stream has gaps of one interval); 0 when the two overlap.
    None when either never answered: nothing was measured."""
    if not new or not old:
        return None
    first_new = min(new)
    before = [t for t in old if t <= first_new]
    if not before:
        return None  # the old address was silent from our first probe: no start to measure
    return round(max(0.0, first_new - max(before) - interval), 3)


def checksum(data: bytes) -> int:
    """Pure: the Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    """Pure: an ICMP echo request (the kernel rewrites the id on a datagram socket)."""
    head = struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, ident & 0xFFFF, seq & 0xFFFF)
    payload = b"tightrope-outage"
    return struct.pack("!BBHHH", _ECHO_REQUEST, 0, checksum(head + payload), ident & 0xFFFF,
                       seq & 0xFFFF) + payload  # fmt: skip


def is_reply(packet: bytes, raw: bool, ident: int) -> bool:
    """Pure: an echo reply to us? A raw socket hands over every ICMP packet with its IP
    header; a datagram socket only the replies to its own id, without the header."""
    if raw:
        if len(packet) < 20:
            return False
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8:
        return False
    kind, _code, _sum, got_id, _seq = struct.unpack("!BBHHH", packet[:8])
    return kind == _ECHO_REPLY and (not raw or got_id == ident & 0xFFFF)


def _open() -> tuple[socket.socket, bool] | None:
    for kind, raw in ((socket.SOCK_DGRAM, False), (socket.SOCK_RAW, True)):
        try:
            return socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP), raw
        except OSError:
            continue
    return None


class EchoWatch:
    """Echo to each target every `interval` in a background thread, until stop(); replies
    are kept per target as `clock()` times. Does nothing (and measures nothing) where this
    user may not send ICMP."""

    def __init__(self, targets: Sequence[str], interval: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.interval, self.clock = interval, clock
        self.replies: dict[str, list[float]] = {t: [] for t in targets}
        self._socks: dict[str, tuple[socket.socket, bool]] = {}
        for target in targets:
            opened = _open()
            if opened is None:
                break
            self._socks[target] = opened
        self._ident = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="echo")
        if self._socks:
            self._thread.start()

    @property
    def measuring(self) -> bool:
        return bool(self._socks)

    def outage(self, old: str, new: str) -> float | None:
        return outage_s(self.replies.get(old, []), self.replies.get(new, []), self.interval)

    def answered(self, target: str, within_s: float | None = None) -> bool:
        """Has target answered (in the last within_s seconds, if given)?"""
        got = self.replies.get(target, [])
        if not got:
            return False
        return within_s is None or self.clock() - got[-1] <= within_s

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for sock, _raw in self._socks.values():
            sock.close()

    def _loop(self) -> None:
        seq = 0
        by_sock = {sock: (target, raw) for target, (sock, raw) in self._socks.items()}
        while not self._stop.is_set():
            seq += 1
            for target, (sock, _raw) in self._socks.items():
                with contextlib.suppress(OSError):  # unreachable for now: that is the outage
                    sock.sendto(echo_request(self._ident, seq), (target, 0))
            until = self.clock() + self.interval
            while (left := until - self.clock()) > 0:
                ready, _, _ = select.select(list(by_sock), [], [], left)
                for sock in ready:
                    target, raw = by_sock[sock]
                    with contextlib.suppress(OSError):
                        packet, (source, _port) = sock.recvfrom(2048)
                        if source == target and is_reply(packet, raw, self._ident):
                            self.replies[target].append(self.clock())
