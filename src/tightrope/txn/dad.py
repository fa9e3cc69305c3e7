"""Our own duplicate-address probe of the bond's static address (RFC 5227), through a packet
socket: NetworkManager's probe runs as the bond comes up and was measured missing a machine
that had the address (in the lab, 2 of 3 journeys: the bond then went on with a taken
address until the confirmation's window ran out). Ours runs once the bond has a port that
carries frames, with the MAC it has then."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

from tightrope.core.arp import ETH_P_ARP, claimed_by, probe_frame

# Half a second in all (NetworkManager's own probe, with the dad-timeout we set, takes as
# long): a good change waits for what is left of it once everything else checks out.
# Three probes, so that one lost frame decides nothing.
PROBES = 3
INTERVAL_S = 0.1
# After the last probe: a reply on a LAN takes milliseconds, an emulated box's scheduling
# more; replies wait in the socket's buffer meanwhile.
LISTEN_S = 0.3


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
        frame = probe_frame(mac, address)
        start = time.monotonic()
        sends = [start + i * INTERVAL_S for i in range(PROBES)]
        end = sends[-1] + LISTEN_S
        while True:
            now = time.monotonic()
            while sends and sends[0] <= now:
                sends.pop(0)
                try:
                    sock.send(frame)
                except OSError:
                    return None
            wake = min(sends[0] if sends else end, end)
            if now >= end:
                return False
            ready, _, _ = select.select([sock], [], [], max(0.0, wake - now))
            if ready and claimed_by(sock.recv(2048), address, ours) is not None:
                return True
