"""Our own ARP questions through a packet socket (frames: core/arp).

- Does another machine use the bond's static address (RFC 5227 probe)? NetworkManager's own
  probe runs as the bond comes up and was measured missing a machine that had the address
  (in the lab, 2 of 3 journeys: the bond then went on with a taken address until the
  confirmation's window ran out). Ours runs once the bond has a port that carries frames,
  with the MAC it has then.
- Does the gateway answer ARP through the bond? What iputils-arping asks; most boxes lack
  that tool, and the kernel's neighbour table, our fallback before, once lost a FAILED entry
  to its garbage collector between two looks (CI, 2026-12-07: a wrong gateway went unnamed
  until the window's end).
"""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

from tightrope.core.arp import ETH_P_ARP, claimed_by, probe_frame, request_frame, sent_by

# Duplicate address: half a second in all (NetworkManager's own probe, with the dad-timeout
# we set, takes as long): a good change waits for what is left of it once everything else
# checks out. Three probes, so that one lost frame decides nothing.
DAD_PROBES = 3
DAD_INTERVAL_S = 0.1
# After the last probe: a reply on a LAN takes milliseconds, an emulated box's scheduling
# more; replies wait in the socket's buffer meanwhile.
DAD_LISTEN_S = 0.3
# Gateway: arping's way, a request a second, done at the first reply; silent after about 3 s.
GATEWAY_REQUESTS = 3
GATEWAY_INTERVAL_S = 1.0
GATEWAY_LISTEN_S = 1.0
_SIOCGIFADDR = 0x8915


def our_macs(sys_net: Path = Path("/sys/class/net")) -> frozenset[bytes]:
    macs = set()
    for link in sys_net.glob("*/address"):
        try:
            text = link.read_text().strip()
            macs.add(bytes.fromhex(text.replace(":", "")))
        except (OSError, ValueError):
            continue
    return frozenset(m for m in macs if len(m) == 6)


def address_taken(address: str, interface: str) -> bool | None:
    """Does another machine answer (or probe) for `address` on `interface`? None: no packet
    socket here (not root, not Linux) or the interface is gone."""
    return _ask(interface, lambda mac: probe_frame(mac, address),
                lambda frame, ours: claimed_by(frame, address, ours) is not None,
                DAD_PROBES, DAD_INTERVAL_S, DAD_LISTEN_S)  # fmt: skip


def gateway_answers(address: str, interface: str) -> bool | None:
    """Does `address` answer an ARP request sent through `interface`, from the interface's
    own address (as arping asks; 0.0.0.0 if it has none yet)? None: cannot ask."""
    sender = interface_address(interface) or "0.0.0.0"
    return _ask(interface, lambda mac: request_frame(mac, address, sender),
                lambda frame, ours: sent_by(frame, address, ours) is not None,
                GATEWAY_REQUESTS, GATEWAY_INTERVAL_S, GATEWAY_LISTEN_S)  # fmt: skip


def interface_address(interface: str) -> str | None:
    """The interface's primary IPv4 address (the kernel's SIOCGIFADDR), None if it has none."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            req = struct.pack("256s", interface.encode()[:15])
            got = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, req)
    except OSError:
        return None
    return socket.inet_ntoa(got[20:24])


def _ask(
    interface: str,
    frame_for: Callable[[bytes], bytes],
    is_answer: Callable[[bytes, frozenset[bytes]], bool],
    count: int,
    interval_s: float,
    listen_s: float,
) -> bool | None:
    """Send `count` frames `interval_s` apart and listen `listen_s` after the last: True at
    the first answer, False if none came, None if the socket could not be used."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except (OSError, AttributeError):
        return None
    with sock:
        try:
            sock.bind((interface, ETH_P_ARP))
            mac = sock.getsockname()[4]
        except OSError:
            return None
        ours = our_macs() | {mac}
        frame = frame_for(mac)
        start = time.monotonic()
        sends = [start + i * interval_s for i in range(count)]
        end = sends[-1] + listen_s
        while True:
            now = time.monotonic()
            while sends and sends[0] <= now:
                sends.pop(0)
                try:
                    sock.send(frame)
                except OSError:
                    return None
            wake = min(sends[0] if sends else end, end)
            ready, _, _ = select.select([sock], [], [], max(0.0, wake - now))
            if ready:
                if is_answer(sock.recv(2048), ours):
                    return True
            elif now >= end:
                # Only with nothing left to read: a box starved of CPU may wake past the end
                # with the answer already queued.
                return False
