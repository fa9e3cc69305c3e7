"""The ipv4 and ipv6 sections of a desired state."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface, ip_address
from typing import Any

from tightrope.core import rules
from tightrope.core.collect import Collector, kind
from tightrope.core.model import IPv4Config, IPv6Config

IPV4_KEYS = ("dhcp", "addresses", "gateway", "nameservers", "dhcp-identifier")
IPV6_KEYS = ("method", "addresses", "gateway", "nameservers")
NS_KEYS = ("addresses", "search")


def _ip(c: Collector, raw: Any, where: str, version: int) -> Any:
    text = c.text(raw, where, "write an address such as 192.168.1.1")
    if text is None:
        return None
    try:
        addr = ip_address(text)
    except ValueError:
        c.add(where, f"{text!r} is not an IP address", "write an address such as 192.168.1.1")
        return None
    if addr.version != version:
        c.add(
            where, f"{text} is an IPv{addr.version} address here", f"put it under ipv{addr.version}"
        )
        return None
    return addr


def _interfaces(c: Collector, raw: Any, where: str, version: int) -> list[Any]:
    fix = "write address/prefix, e.g. 192.168.1.64/24" if version == 4 else "e.g. 2001:db8::64/64"
    out: list[Any] = []
    for i, item in enumerate(c.sequence(raw, where, fix)):
        w = f"{where}[{i}]"
        text = c.text(item, w, fix)
        if text is None:
            continue
        if "/" not in text:
            c.add(w, f"{text} has no prefix length", f"add it: {text}/24" if version == 4 else fix)
            continue
        try:
            iface = IPv4Interface(text) if version == 4 else IPv6Interface(text)
        except ValueError as exc:
            c.add(w, f"{text!r}: {exc}", fix)
            continue
        if isinstance(iface, IPv4Interface) and not c.verdict(w, rules.host_address(iface)):
            continue
        out.append(iface)
    return out


def _nameservers(c: Collector, raw: Any, where: str, version: int) -> tuple[list[Any], list[str]]:
    ns = c.mapping(raw, where, NS_KEYS)
    dns = [
        a
        for i, item in enumerate(
            c.sequence(ns.get("addresses", []), f"{where}.addresses", "list DNS server addresses")
        )
        if (a := _ip(c, item, f"{where}.addresses[{i}]", version)) is not None
    ]
    search: list[str] = []
    for i, item in enumerate(c.sequence(ns.get("search", []), f"{where}.search", "list domains")):
        text = c.text(item, f"{where}.search[{i}]", "use a domain such as home.lan")
        if text is not None and c.verdict(f"{where}.search[{i}]", rules.search_domain(text)):
            search.append(text)
    return dns, search


def parse_ipv4(c: Collector, raw: Any) -> IPv4Config:
    if raw is None:
        c.add("ipv4", "is missing", "give `addresses:` and `gateway:`, or `dhcp: true`")
        return IPv4Config()
    v4 = c.mapping(raw, "ipv4", IPV4_KEYS)
    dhcp = v4.get("dhcp", False)
    if not isinstance(dhcp, bool):
        c.add("ipv4.dhcp", f"must be true or false, not {kind(dhcp)}", "write true or false")
        dhcp = False
    addresses = _interfaces(c, v4.get("addresses", []), "ipv4.addresses", 4)
    if dhcp and "addresses" in v4:
        c.add(
            "ipv4.addresses",
            "is given together with dhcp: true",
            "choose one: a static address, or DHCP",
        )
    if not dhcp and "addresses" not in v4:
        c.add(
            "ipv4.addresses",
            "is missing",
            "give the static address, e.g. 192.168.1.64/24, or set `dhcp: true`",
        )
    gateway: IPv4Address | None = None
    if "gateway" in v4:
        gateway = _ip(c, v4["gateway"], "ipv4.gateway", 4)
        if dhcp:
            c.add(
                "ipv4.gateway",
                "is given together with dhcp: true",
                "remove it: DHCP supplies the gateway",
            )
        elif gateway is not None and addresses:
            if not any(gateway in a.network for a in addresses):
                nets = ", ".join(str(a.network) for a in addresses)
                c.add(
                    "ipv4.gateway",
                    f"{gateway} is outside {nets}",
                    "use a gateway inside the bond's subnet, or fix the prefix length",
                )
            elif any(gateway == a.ip for a in addresses):
                c.add(
                    "ipv4.gateway",
                    f"{gateway} is the bond's own address",
                    "give the router's address",
                )
    dns, search = _nameservers(c, v4.get("nameservers", {}), "ipv4.nameservers", 4)
    ident = None
    if "dhcp-identifier" in v4:
        ident = c.text(v4["dhcp-identifier"], "ipv4.dhcp-identifier", "use mac, duid or a text")
        if not dhcp:
            c.add("ipv4.dhcp-identifier", "only applies with dhcp: true", "remove it")
    return IPv4Config(
        dhcp=dhcp,
        addresses=tuple(addresses),
        gateway=gateway,
        dns=tuple(dns),
        search=tuple(search),
        dhcp_identifier=ident,
    )


def parse_ipv6(c: Collector, raw: Any) -> IPv6Config:
    if isinstance(raw, str):
        raw = {"method": raw}
    v6 = c.mapping(raw, "ipv6", IPV6_KEYS)
    method = (
        c.text(
            v6.get("method", "static" if "addresses" in v6 else "auto"),
            "ipv6.method",
            "use auto, disabled or static",
        )
        or "auto"
    )
    if method not in ("auto", "disabled", "static"):
        c.add(
            "ipv6" if "method" not in v6 else "ipv6.method",
            f"{method!r} is not a method",
            "use auto, disabled, or give addresses for static",
        )
        method = "auto"
    addresses = _interfaces(c, v6.get("addresses", []), "ipv6.addresses", 6)
    if method == "static" and not addresses and "addresses" not in v6:
        c.add("ipv6.addresses", "is missing for a static IPv6", "give e.g. 2001:db8::64/64")
    if method != "static" and "addresses" in v6:
        c.add("ipv6.addresses", f"is given with method {method}", "remove it or use static")
    gateway: IPv6Address | None = None
    if "gateway" in v6:
        gateway = _ip(c, v6["gateway"], "ipv6.gateway", 6)
    dns, _ = _nameservers(c, v6.get("nameservers", {}), "ipv6.nameservers", 6)
    return IPv6Config(method=method, addresses=tuple(addresses), gateway=gateway, dns=tuple(dns))
