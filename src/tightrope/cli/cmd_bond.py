"""`tightrope bond --ethernet eth0 --wifi wlan0 ...`: the seed's whole nmcli script as one line.

The flags build the same plain data a YAML file gives, so both go through one validator.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tightrope.cli import inputs, remote_cli
from tightrope.cli.cmd_plan import add_snapshot_options, show_plan
from tightrope.core.config import parse_config
from tightrope.core.configdump import config_to_data
from tightrope.core.yamltext import dump_yaml
from tightrope.errors import ConfigError, Problem, UsageError

_HEADER = """\
# tightrope desired state (see `tightrope plan FILE`, then `tightrope apply FILE`)
# The Wi-Fi PSK is never written here: use psk-file (a 0600 file) or psk-env, or leave
# both out to be asked for it.
"""


# Problems name the flag the user typed, not the file key it became.
_FLAG_FOR_FIELD = (
    ("ipv4.nameservers.addresses", "--dns"),
    ("ipv4.nameservers.search", "--search"),
    ("ipv4.addresses", "--address"),
    ("ipv4.gateway", "--gateway"),
    ("ipv4.dhcp-identifier", "--dhcp-identifier"),
    ("ipv4", "--address"),
    ("parameters.mii-monitor-interval", "--mii-monitor-interval"),
    ("parameters.up-delay", "--up-delay"),
    ("parameters.down-delay", "--down-delay"),
    ("parameters.fail-over-mac-policy", "--fail-over-mac-policy"),
    ("parameters.gratuitous-arp", "--gratuitous-arp"),
    ("parameters.peer-notify-delay", "--peer-notify-delay"),
    ("parameters.primary", "--primary"),
    ("parameters.arp-interval", "--arp-interval"),
    ("parameters.arp-ip-targets", "--arp-ip-targets"),
    ("parameters.arp-validate", "--arp-validate"),
    ("parameters.arp-all-targets", "--arp-all-targets"),
    ("parameters.arp-missed-max", "--arp-missed-max"),
    ("parameters.mode", "--mode"),
    ("bond", "--name"),
    ("mtu", "--mtu"),
    ("ports", "--ethernet/--wifi"),
)


def flag_for(field: str) -> str:
    parts = field.split(".")
    if len(parts) >= 3 and parts[0] == "ports":
        flag = {"ssid": "--ssid", "psk-file": "--psk-file", "psk-env": "--psk-env"}.get(parts[2])
        if flag:
            return f"{flag} (port {parts[1]})"
    for prefix, flag in _FLAG_FOR_FIELD:
        if field == prefix or field.startswith(prefix + ".") or field.startswith(prefix + "["):
            return flag + field[len(prefix) :] if field.startswith(prefix + "[") else flag
    return field


# The core's advice is written for the YAML file; from flags it must name the flags. Whole
# phrases first (they carry the example), then the keys a message may mention.
_FLAG_ADVICE = (
    ("list the ports under `ports:`, e.g. `eth0: {type: ethernet}`",
     "name the ports, e.g. `--ethernet eth0 --wifi wlan0`"),
    ("give the network's name: `ssid: HomeWiFi`",
     "give one --ssid per --wifi port, e.g. `--wifi wlan0 --ssid HomeWiFi`"),
    ("give `addresses:` and `gateway:`, or `dhcp: true`",
     "give `--address 192.168.1.64/24 --gateway 192.168.1.1`, or `--dhcp`"),
    ("give the static address, e.g. 192.168.1.64/24, or set `dhcp: true`",
     "give `--address 192.168.1.64/24`, or `--dhcp`"),
    ("add `psk-file: /path` (0600) or `psk-env: VAR`", "give `--psk-file FILE` (0600) or "
     "`--psk-env VAR`"),
    ("or use psk-file", "or use --psk-file"),
    ("dhcp: true", "--dhcp"),
    ("use mode active-backup", "use --mode active-backup"),
    ("use active (or leave it out)", "use --fail-over-mac-policy active (or leave it out)"),
    ("not a multiple of mii-monitor-interval", "not a multiple of --mii-monitor-interval"),
    ("add arp-interval (e.g. 200)", "add --arp-interval 200"),
    ("or monitor with ARP (arp-interval)", "or monitor with ARP (--arp-interval)"),
    ("leave up-delay out, or arp-interval", "leave --up-delay out, or --arp-interval"),
    ("leave down-delay out, or arp-interval", "leave --down-delay out, or --arp-interval"),
    ("leave peer-notify-delay out, or arp-interval",
     "leave --peer-notify-delay out, or --arp-interval"),
    ("leave mii-monitor-interval out, or arp-interval",
     "leave --mii-monitor-interval out, or --arp-interval"),
    ("and the other arp-* keys", "and the other --arp-* flags"),
    ("or MII monitoring (mii-monitor-interval)", "or MII monitoring (--mii-monitor-interval)"),
    ("write it as [198.18.1.1]", "write it as --arp-ip-targets 198.18.1.1"),
)  # fmt: skip


def flag_advice(text: str) -> str:
    """Advice written for the YAML file, said in flags (pure)."""
    for yaml_words, flag_words in _FLAG_ADVICE:
        text = text.replace(yaml_words, flag_words)
    return text


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def flags_to_data(args: argparse.Namespace) -> dict[str, Any]:
    """Pure: parsed flags -> the plain data of a config file."""
    ports: dict[str, Any] = {}
    for iface in args.ethernet or []:
        ports[iface] = {"type": "ethernet"}
    ssids = list(args.ssid or [])
    wifis = list(args.wifi or [])
    if len(ssids) > len(wifis):
        raise UsageError("--ssid given more often than --wifi: give one --ssid per --wifi port")
    for i, iface in enumerate(wifis):
        spec: dict[str, Any] = {"type": "wifi"}
        if i < len(ssids):
            spec["ssid"] = ssids[i]
        if args.psk_file:
            spec["psk-file"] = args.psk_file
        elif args.psk_env:
            spec["psk-env"] = args.psk_env
        ports[iface] = spec
    data: dict[str, Any] = {"bond": args.name, "ports": ports or None}
    params: dict[str, Any] = {"mode": args.mode}
    if args.miimon is not None:
        params["mii-monitor-interval"] = args.miimon
    if args.no_primary:
        params["primary"] = None
    elif args.primary:
        params["primary"] = args.primary
    if args.updelay is not None:
        params["up-delay"] = args.updelay
    if args.downdelay is not None:
        params["down-delay"] = args.downdelay
    if args.fail_over_mac:
        params["fail-over-mac-policy"] = args.fail_over_mac
    if args.num_grat_arp is not None:
        params["gratuitous-arp"] = args.num_grat_arp
    if args.peer_notif_delay is not None:
        params["peer-notify-delay"] = args.peer_notif_delay
    if args.arp_interval is not None:
        params["arp-interval"] = args.arp_interval
    if args.arp_ip_targets:
        params["arp-ip-targets"] = _split(args.arp_ip_targets)
    for key in ("arp_validate", "arp_all_targets", "arp_missed_max"):
        if getattr(args, key) is not None:
            params[key.replace("_", "-")] = getattr(args, key)
    data["parameters"] = params
    ipv4: dict[str, Any] = {}
    if args.dhcp:
        ipv4["dhcp"] = True
    if args.address:
        ipv4["addresses"] = _split(args.address)
    if args.gateway:
        ipv4["gateway"] = args.gateway
    if args.dhcp_identifier:
        ipv4["dhcp-identifier"] = args.dhcp_identifier
    ns: dict[str, Any] = {}
    if args.dns:
        ns["addresses"] = _split(args.dns)
    if args.search:
        ns["search"] = _split(args.search)
    if ns:
        ipv4["nameservers"] = ns
    data["ipv4"] = ipv4
    data["ipv6"] = args.ipv6
    if args.mtu is not None:
        data["mtu"] = args.mtu
    return data


def _run(args: argparse.Namespace) -> int:
    data = flags_to_data(args)
    # With --print-config nothing acts, so there is no PSK to ask for or read.
    src = inputs.sources(resolve_psk=not args.print_config)
    try:
        config = parse_config(data, src, origin="command line")
    except ConfigError as exc:
        problems = [Problem(flag_for(p.field), flag_advice(p.message), flag_advice(p.fix))
                    for p in exc.problems]  # fmt: skip
        raise ConfigError(problems, "the command line") from None
    if args.print_config:
        text = _HEADER + dump_yaml(config_to_data(config))
        if args.print_config == "-":
            sys.stdout.write(text)
        else:
            try:
                with open(args.print_config, "x", encoding="utf-8") as fh:
                    fh.write(text)
            except FileExistsError:
                raise UsageError(f"{args.print_config} already exists",
                                 hint="--print-config never overwrites: give a new file name, "
                                 "or - for standard output.") from None  # fmt: skip
        return 0
    if remote_cli.wants_remote(args):
        if args.plan:
            return remote_cli.plan_remote(config, args)
        return remote_cli.apply_fleet(config, args)
    if args.plan:
        return show_plan(config, args)
    from tightrope.cli.cmd_apply import apply_config

    return apply_config(config, args)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "bond",
        help="join ports into a bond on a static address, in one command",
        description="Build the desired state from flags: e.g. tightrope bond --ethernet eth0 "
        "--wifi wlan0 --ssid HomeWiFi --address 192.168.1.64/24 --gateway 192.168.1.1 "
        "--dns 8.8.8.8",
    )
    g = p.add_argument_group("ports")
    g.add_argument("--ethernet", action="append", metavar="IFACE", help="an Ethernet port")
    g.add_argument("--wifi", action="append", metavar="IFACE", help="a Wi-Fi port")
    g.add_argument("--ssid", action="append", metavar="NAME", help="SSID for each --wifi")
    g.add_argument("--psk-file", metavar="FILE", help="file holding the Wi-Fi PSK (0600)")
    g.add_argument("--psk-env", metavar="VAR", help="environment variable holding the PSK")
    b = p.add_argument_group("bond")
    b.add_argument("--name", default="bond0", help="bond interface name (default: bond0)")
    b.add_argument("--mode", default="active-backup", help="bonding mode (default: active-backup)")
    b.add_argument("--primary", metavar="IFACE", help="primary port (default: first ethernet)")
    b.add_argument("--no-primary", action="store_true", help="no primary (no fail-back)")
    # Named as netplan's YAML keys (the file and the flags say the same thing); the kernel's
    # names, which the seed's nmcli script used, stay as aliases.
    b.add_argument("--mii-monitor-interval", "--miimon", dest="miimon", type=int,
                   metavar="MS", help="watch the link (MII) every MS instead of ARP (default: "
                   "100 when there is no static gateway to ask)")  # fmt: skip
    b.add_argument("--up-delay", "--updelay", dest="updelay", type=int, metavar="MS",
                   help="fail-back delay, MII only (default: 2000 with a primary, else 0)")
    b.add_argument("--down-delay", "--downdelay", dest="downdelay", type=int, metavar="MS",
                   help="delay before failing over a port that lost its link (default: 0)")
    b.add_argument("--fail-over-mac-policy", "--fail-over-mac", dest="fail_over_mac",
                   choices=("none", "active", "follow"), metavar="POLICY",
                   help="whose MAC the bond uses: none, active or follow "
                   "(default: active with a Wi-Fi port, else none)")  # fmt: skip
    b.add_argument("--gratuitous-arp", "--num-grat-arp", dest="num_grat_arp", type=int,
                   metavar="N", help="peer notifications after a switch "
                   "(default: 3 when the MAC moves, else 1)")  # fmt: skip
    b.add_argument("--peer-notify-delay", "--peer-notif-delay", dest="peer_notif_delay",
                   type=int, metavar="MS",
                   help="ms between them, MII only (default: 200 when the MAC moves, else 0)")
    b.add_argument("--mtu", type=int, help="the bond's MTU (default: NetworkManager's)")
    m = p.add_argument_group("ARP monitor (the default with a static gateway: catches a dead "
                             "path, where the link check would not)")  # fmt: skip
    m.add_argument("--arp-interval", type=int, metavar="MS",
                   help="ask the targets every MS (default: 100 with a static gateway and no "
                   "MII flag, else off)")  # fmt: skip
    m.add_argument("--arp-ip-targets", action="append", metavar="ADDR",
                   help="addresses to ask, comma-separated or repeated (default: the gateway)")
    m.add_argument("--arp-validate", choices=("none", "active", "backup", "all"),
                   metavar="WHICH", help="which ports must see the replies: none, active, "
                   "backup or all (default: active)")  # fmt: skip
    m.add_argument("--arp-all-targets", choices=("any", "all"), metavar="ANY_OR_ALL",
                   help="a port is up while any (or all) targets answer (default: any)")
    m.add_argument("--arp-missed-max", type=int, metavar="N",
                   help="intervals without a reply before a port is down (default: 2)")
    a = p.add_argument_group("addresses")
    a.add_argument("--address", action="append", metavar="CIDR", help="e.g. 192.168.1.64/24")
    a.add_argument("--gateway", metavar="ADDR")
    a.add_argument("--dns", action="append", metavar="ADDR", help="DNS server(s)")
    a.add_argument("--search", action="append", metavar="DOMAIN", help="DNS search domain(s)")
    a.add_argument("--dhcp", action="store_true", help="take the address from DHCP")
    a.add_argument("--dhcp-identifier", metavar="ID", help="DHCP client-id: mac, duid, text")
    a.add_argument("--ipv6", default="auto", choices=("auto", "disabled"),
                   help="IPv6 on the bond (default: auto)")  # fmt: skip
    o = p.add_argument_group("what to do")
    o.add_argument(
        "--print-config",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the YAML file (to FILE or stdout) instead of acting",
    )
    o.add_argument("--plan", action="store_true", help="show the plan only")
    add_snapshot_options(p)
    from tightrope.cli.cmd_apply import add_apply_options

    add_apply_options(p)
    remote_cli.add_remote_options(p, fleet=True)
    p.set_defaults(func=_run)
