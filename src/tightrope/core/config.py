"""Plain data (from YAML or from `tightrope bond` flags) -> a validated BondConfig.

Every problem is collected, each naming its field and the fix, and reported at once. The
only I/O a config needs (PSK files, environment, a prompt) comes in through `Sources`.

File format (netplan-like key names where netplan has them):

    bond: bond0
    ports:
      eth0: {type: ethernet}
      wlan0: {type: wifi, ssid: HomeWiFi, psk-file: /root/wlan0.psk}
    parameters:
      mode: active-backup
      primary: eth0
      mii-monitor-interval: 100
      up-delay: 0
      down-delay: 0
      fail-over-mac-policy: active
    ipv4:
      addresses: [192.168.1.64/24]     # or: dhcp: true
      gateway: 192.168.1.1
      nameservers: {addresses: [8.8.8.8], search: [home.lan]}
    ipv6: auto                         # or disabled, or {addresses: [...], gateway: ...}
    mtu: 1500
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tightrope.core import rules
from tightrope.core.collect import Collector, kind
from tightrope.core.config_ip import parse_ipv4, parse_ipv6
from tightrope.core.model import (
    BOND_MODES,
    FAIL_OVER_MAC_POLICIES,
    BondConfig,
    Port,
    PortKind,
    PskSource,
    Secret,
)
from tightrope.core.monitor import ARP_KEYS, ArpValidate, parse_arp, with_default_monitor
from tightrope.errors import ConfigError

FAILBACK_UPDELAY_MS = 2000
# With fail_over_mac=active the bond's MAC moves at every switch and peers learn it only from
# gratuitous ARPs. In the lab, with half of them lost at the access point, one notification
# left 3 of 10 cable pulls silent for seconds; three, 200 ms apart, 0 of 10, at ~50 ms more
# median (docs/benchmarks.md; an earlier exploratory run of 8 pulls each was less clear-cut:
# 2 and 2). On a lossless link they cost nothing.
MOVING_MAC_GRAT_ARP = 3
MOVING_MAC_NOTIFY_DELAY_MS = 200
# With arp_validate=active only the active port must see ARP replies from a target; an idle
# backup counts as alive on any frame it receives, and a Wi-Fi backup hears the LAN's
# broadcasts (the bond's own ARP requests among them) through its access point.
DEFAULT_ARP_VALIDATE = ArpValidate.ACTIVE

TOP_KEYS = ("bond", "ports", "parameters", "ipv4", "ipv6", "mtu")
PARAM_KEYS = (
    "mode",
    "primary",
    "mii-monitor-interval",
    "up-delay",
    "down-delay",
    "fail-over-mac-policy",
    "gratuitous-arp",
    "peer-notify-delay",
    *ARP_KEYS,
)
PORT_KEYS = ("type", "ssid", "psk", "psk-file", "psk-env")


class Refused(Exception):
    """Raised by a Sources.read_file that will not use a file (open to others, not a regular
    file, too big): `message` says why, `fix` what to do; reported as the field's problem."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message, self.fix = message, fix


@dataclass(frozen=True)
class Sources:
    """The outside world a config may need, injected so loading stays pure and testable."""

    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # values may be PSKs
    read_file: Callable[[str], str] | None = None  # path -> text; raises OSError or Refused
    prompt: Callable[[str], str] | None = None  # ssid -> PSK typed by the user
    file_private: bool = True  # the config file is readable by its owner alone
    resolve_psk: bool = True  # False: only check where the PSK would come from (--print-config)


def parse_config(data: Any, sources: Sources | None = None, origin: str = "") -> BondConfig:
    """Validate plain data and build the model, or raise ConfigError listing every problem."""
    sources = sources or Sources()
    c = Collector()
    top = c.mapping(data, "", TOP_KEYS) if data is not None else {}
    if data is None:
        c.add("(file)", "is empty", "describe the bond: see `tightrope bond --help` or README")

    name = c.text(top.get("bond", "bond0"), "bond", "name the bond, e.g. bond0") or "bond0"
    c.verdict("bond", rules.interface_name(name))

    params = c.mapping(top.get("parameters", {}), "parameters", PARAM_KEYS)
    mode = c.text(params.get("mode", "active-backup"), "parameters.mode", "e.g. active-backup")
    if mode is not None and mode not in BOND_MODES:
        c.add(
            "parameters.mode",
            f"{mode!r} is not a bonding mode",
            f"use one of: {', '.join(BOND_MODES)}",
        )

    ports = _ports(c, top.get("ports"), name, sources)
    has_wifi = any(p.is_wifi for p in ports)
    if has_wifi and mode not in (None, "active-backup") and mode in BOND_MODES:
        c.add(
            "parameters.mode",
            f"{mode} cannot carry a Wi-Fi port",
            "use mode active-backup: a Wi-Fi station cannot share a MAC or a load",
        )

    primary = _primary(c, params, ports, mode)
    ipv4 = parse_ipv4(c, top.get("ipv4"))
    # The ARP monitor replaces MII monitoring and its delays (core.monitor refuses them).
    params = with_default_monitor(params, mode, ipv4.gateway)
    by_arp = "arp-interval" in params
    miimon = updelay = downdelay = 0
    if not by_arp:
        miimon, updelay, downdelay = _mii(c, params, primary, mode)

    default_fom = "active" if has_wifi else "none"
    fom = (
        c.text(
            params.get("fail-over-mac-policy", default_fom),
            "parameters.fail-over-mac-policy",
            "use active",
        )
        or default_fom
    )
    if fom not in FAIL_OVER_MAC_POLICIES:
        c.add(
            "parameters.fail-over-mac-policy",
            f"{fom!r} is not a policy",
            f"use one of: {', '.join(FAIL_OVER_MAC_POLICIES)}",
        )
    elif has_wifi and fom != "active":
        c.add(
            "parameters.fail-over-mac-policy",
            f"is {fom} but a port is Wi-Fi",
            "use active (or leave it out): an access point drops frames from a borrowed MAC",
        )

    moving_mac = fom == "active"
    grat_arp = c.integer(
        params.get("gratuitous-arp", MOVING_MAC_GRAT_ARP if moving_mac else 1),
        "parameters.gratuitous-arp",
        0,
        255,
        " of notifications",
    )
    notify_delay = 0
    if not by_arp:
        notify_delay = _delay(
            c, params, "peer-notify-delay", miimon, MOVING_MAC_NOTIFY_DELAY_MS if moving_mac else 0
        ) or 0

    arp = parse_arp(c, params, mode=mode, addresses=ipv4.addresses, gateway=ipv4.gateway,
                    default_validate=DEFAULT_ARP_VALIDATE)  # fmt: skip
    ipv6 = parse_ipv6(c, top.get("ipv6", "auto"))
    mtu = None
    if "mtu" in top:
        mtu = c.integer(top["mtu"], "mtu", 576, 9216, " of bytes")

    if c.problems:
        raise ConfigError(c.problems, origin)
    return BondConfig(
        name=name,
        ports=tuple(ports),
        mode=mode or "active-backup",
        primary=primary,
        miimon=0 if by_arp else miimon or 100,
        updelay=updelay or 0,
        downdelay=downdelay or 0,
        arp=arp,
        fail_over_mac=fom,
        num_grat_arp=1 if grat_arp is None else grat_arp,
        peer_notif_delay=notify_delay,
        ipv4=ipv4,
        ipv6=ipv6,
        mtu=mtu,
    )


def _mii(
    c: Collector, params: dict[str, Any], primary: str | None, mode: str | None
) -> tuple[int, int, int]:
    miimon = c.integer(
        params.get("mii-monitor-interval", 100),
        "parameters.mii-monitor-interval",
        0,
        60_000,
        " of milliseconds",
    )
    if miimon == 0:
        c.add(
            "parameters.mii-monitor-interval",
            "is 0, which turns link monitoring off",
            "keep 100 (ms), or monitor with ARP (arp-interval): without either a pulled "
            "cable is never noticed",
        )
    # Fail-back waits for the cable to stay up: measured in the lab with a cable replugged
    # every second, 2000 ms cut the outages from 3 to 1 and lost probes from 17 to 3
    # (docs/benchmarks.md). Without a primary there is no fail-back to delay.
    default_up = FAILBACK_UPDELAY_MS if primary and mode == "active-backup" else 0
    updelay = _delay(c, params, "up-delay", miimon, default_up)
    downdelay = _delay(c, params, "down-delay", miimon)
    return miimon or 0, updelay or 0, downdelay or 0


def _ports(c: Collector, raw: Any, bond: str, sources: Sources) -> list[Port]:
    fix = "list the ports under `ports:`, e.g. `eth0: {type: ethernet}`"
    if raw is None:
        c.add("ports", "is missing", fix)
        return []
    if not isinstance(raw, dict) or not raw:
        c.add("ports", f"must be a mapping of interface names, not {kind(raw)}", fix)
        return []
    ports: list[Port] = []
    for iface, spec in raw.items():
        where = f"ports.{iface}"
        if not isinstance(iface, str):
            c.add(where, "is not an interface name", "use the device's name, e.g. eth0")
            continue
        if not c.verdict(where, rules.interface_name(iface)):
            continue
        if iface == bond:
            c.add(where, "has the bond's own name", "a port is a device such as eth0 or wlan0")
            continue
        port = _port(c, iface, spec if spec is not None else {}, where, sources)
        if port is not None:
            ports.append(port)
    if len(raw) > 8:
        c.add("ports", f"has {len(raw)} ports", "an active-backup bond here takes a few ports")
    return ports


def _port(c: Collector, iface: str, spec: Any, where: str, sources: Sources) -> Port | None:
    spec = c.mapping(spec, where, PORT_KEYS)
    kind_text = c.text(spec.get("type"), f"{where}.type", "use ethernet or wifi")
    if "type" not in spec:
        c.add(f"{where}.type", "is missing", "say `type: ethernet` or `type: wifi`")
        return None
    if kind_text not in ("ethernet", "wifi"):
        if kind_text is not None:
            c.add(f"{where}.type", f"{kind_text!r} is not a port type", "use ethernet or wifi")
        return None
    kind = PortKind(kind_text)
    if kind is PortKind.ETHERNET:
        for key in ("ssid", "psk", "psk-file", "psk-env"):
            if key in spec:
                c.add(f"{where}.{key}", "belongs to a Wi-Fi port", "remove it, or set `type: wifi`")
        return Port(iface, kind)
    ssid = None
    if "ssid" not in spec:
        c.add(f"{where}.ssid", "is missing", "give the network's name: `ssid: HomeWiFi`")
    else:
        ssid = c.text(spec["ssid"], f"{where}.ssid", "give the network's name")
        if ssid is not None and not c.verdict(f"{where}.ssid", rules.ssid(ssid)):
            ssid = None
    psk, source = _psk(c, spec, where, ssid, sources)
    return Port(iface, kind, ssid=ssid, psk=psk, psk_source=source)


def _psk(
    c: Collector, spec: dict[str, Any], where: str, ssid: str | None, sources: Sources
) -> tuple[Secret | None, PskSource | None]:
    given = [k for k in ("psk", "psk-file", "psk-env") if k in spec]
    if len(given) > 1:
        c.add(where, f"has {' and '.join(given)}", "give the PSK one way only")
        return None, None
    value: str | None = None
    if not sources.resolve_psk:
        kinds = {"psk": "inline", "psk-file": "file", "psk-env": "env"}
        kind_ = kinds[given[0]] if given else "prompt"
        ref = spec.get(given[0], "") if given and given[0] != "psk" else ""
        return None, PskSource(kind_, str(ref))
    if not given:
        if sources.prompt is None:
            c.add(
                f"{where}.psk-file",
                "no PSK given and no terminal to ask for it",
                "add `psk-file: /path` (0600) or `psk-env: VAR`, or run interactively",
            )
            return None, None
        source = PskSource("prompt")
        if ssid is not None:
            value = sources.prompt(ssid)
    elif given[0] == "psk":
        source = PskSource("inline")
        if not sources.file_private:
            c.add(
                f"{where}.psk",
                "is written in a file that others can read",
                "chmod 600 the file, or use psk-file / psk-env instead",
            )
            return None, source
        value = c.text(spec["psk"], f"{where}.psk", "quote the passphrase")
    elif given[0] == "psk-env":
        var = c.text(spec["psk-env"], f"{where}.psk-env", "name an environment variable")
        source = PskSource("env", var or "")
        if var is not None:
            value = sources.env.get(var)
            if value is None:
                c.add(
                    f"{where}.psk-env",
                    f"the environment variable {var} is not set",
                    f"export {var}=... (read it with `read -s {var}`), or use psk-file",
                )
    else:
        path = c.text(spec["psk-file"], f"{where}.psk-file", "give a file path")
        source = PskSource("file", path or "")
        if path is not None:
            value = _read_psk_file(c, f"{where}.psk-file", path, sources)
    if value is None:
        return None, source
    if not c.verdict(f"{where}.psk", rules.psk(value)):
        return None, source
    return Secret(value), source


def _read_psk_file(c: Collector, where: str, path: str, sources: Sources) -> str | None:
    if sources.read_file is None:
        c.add(where, "cannot be read here", "run tightrope where the file is")
        return None
    try:
        text = sources.read_file(path)
    except Refused as exc:
        c.add(where, f"{path} {exc.message}", exc.fix)
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        c.add(where, f"{path}: {reason}", "give the path of a file holding only the PSK")
        return None
    # A trailing newline from `echo pass > file` is not part of the passphrase.
    return text.rstrip("\r\n")


def _primary(
    c: Collector, params: dict[str, Any], ports: list[Port], mode: str | None
) -> str | None:
    names = [p.interface for p in ports]
    if "primary" in params:
        if params["primary"] is None:
            return None  # the admin asked for no primary: no fail-back, the plan warns
        primary = c.text(params["primary"], "parameters.primary", "name one of the ports")
        if primary is not None and names and primary not in names:
            c.add(
                "parameters.primary",
                f"{primary!r} is not one of the ports",
                f"use one of: {', '.join(names)}",
            )
        if primary is not None and mode not in ("active-backup", "balance-tlb", "balance-alb"):
            c.add(
                "parameters.primary",
                f"has no meaning in mode {mode}",
                "remove it, or use mode active-backup",
            )
        return primary
    if mode != "active-backup":
        return None
    return next((p.interface for p in ports if p.kind is PortKind.ETHERNET), None)


def _delay(
    c: Collector, params: dict[str, Any], key: str, miimon: int | None, default: int = 0
) -> int | None:
    where = f"parameters.{key}"
    value = c.integer(params.get(key, default), where, 0, 600_000, " of milliseconds")
    if key not in params and value and miimon and value % miimon:
        return value // miimon * miimon or miimon  # our default, fitted to their interval
    if value and miimon and value % miimon:
        lower = value // miimon * miimon
        c.add(
            where,
            f"{value} ms is not a multiple of mii-monitor-interval ({miimon} ms)",
            f"use {lower or miimon} or {lower + miimon}: the kernel rounds it down anyway",
        )
    return value
