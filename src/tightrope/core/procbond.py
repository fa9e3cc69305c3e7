"""Parse /proc/net/bonding/<bond> (the kernel's own account of a bond) into BondRuntime.

Pure: the caller reads the file. The format is the kernel's bond_procfs.c; it has said
"Slave" since 2.6 and stays stable, but unknown lines are ignored rather than trusted to be
absent, and "Port" is accepted too in case a kernel renames them.
"""

from __future__ import annotations

from tightrope.core.snapshot import BondPortRuntime, BondRuntime

# bond_mode_name() texts -> the mode names NetworkManager and iproute2 use.
_MODES = {
    "load balancing (round-robin)": "balance-rr",
    "fault-tolerance (active-backup)": "active-backup",
    "load balancing (xor)": "balance-xor",
    "fault-tolerance (broadcast)": "broadcast",
    "IEEE 802.3ad Dynamic link aggregation": "802.3ad",
    "transmit load balancing": "balance-tlb",
    "adaptive load balancing": "balance-alb",
}

_PORT_KEYS = ("Slave Interface", "Port Interface")


def parse_proc_bond(text: str) -> BondRuntime:
    """Raises ValueError when the text is not a bonding status file."""
    master: dict[str, str] = {}
    ports: list[dict[str, str]] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in _PORT_KEYS:
            ports.append({"interface": value})
        elif ports:
            ports[-1].setdefault(key, value)
        else:
            master.setdefault(key, value)
    if "Bonding Mode" not in master:
        raise ValueError("not a bonding status file: no 'Bonding Mode' line")
    mode, fail_over_mac = _parse_mode(master["Bonding Mode"])
    return BondRuntime(
        mode=mode,
        mii_status=master.get("MII Status", "unknown"),
        mii_interval_ms=_int(master.get("MII Polling Interval (ms)", "0")),
        active_port=_name_or_none(
            _first(master, "Currently Active Slave", "Currently Active Port")
        ),
        primary=_name_or_none(_first(master, "Primary Slave", "Primary Port")),
        ports=tuple(_port(p) for p in ports),
        updelay_ms=_int(master.get("Up Delay (ms)", "0")),
        downdelay_ms=_int(master.get("Down Delay (ms)", "0")),
        fail_over_mac=fail_over_mac,
        arp_interval_ms=_int(master.get("ARP Polling Interval (ms)", "0")),
        arp_targets=tuple(t.strip() for t in
                          master.get("ARP IP target/s (n.n.n.n form)", "").split(",") if t.strip()),
        arp_missed_max=_int(master["ARP Missed Max"]) if "ARP Missed Max" in master else None,
    )


def _parse_mode(text: str) -> tuple[str, str | None]:
    """'fault-tolerance (active-backup) (fail_over_mac active)' -> ('active-backup', 'active').

    Without the suffix the kernel's fail_over_mac is `none` (0): it prints nothing then."""
    fail_over_mac: str | None = None
    marker = "(fail_over_mac "
    if marker in text:
        text, _, rest = text.partition(marker)
        fail_over_mac = rest.rstrip(")").strip()
        text = text.strip()
    mode = _MODES.get(text)
    if mode is None:
        raise ValueError(f"unknown bonding mode {text!r}")
    if fail_over_mac is None and mode == "active-backup":
        fail_over_mac = "none"
    return mode, fail_over_mac


def _port(fields: dict[str, str]) -> BondPortRuntime:
    speed = fields.get("Speed")
    mac = fields.get("Permanent HW addr")
    return BondPortRuntime(
        interface=fields["interface"],
        mii_status=fields.get("MII Status", "unknown"),
        speed=None if speed in (None, "", "Unknown") else speed,
        link_failure_count=_int(fields.get("Link Failure Count", "0")),
        permanent_mac=mac.upper() if mac else None,
    )


def _first(fields: dict[str, str], *keys: str) -> str | None:
    return next((fields[k] for k in keys if k in fields), None)


def _name_or_none(value: str | None) -> str | None:
    """'eth0 (primary_reselect always)' -> 'eth0'; 'None' -> None."""
    if not value:
        return None
    name = value.split()[0]
    return None if name == "None" else name


def _int(text: str) -> int:
    try:
        return int(text.split()[0])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"expected a number, got {text!r}") from exc
