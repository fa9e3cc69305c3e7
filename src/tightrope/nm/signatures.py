"""D-Bus signatures of profile settings, so JSON-typed settings can be sent back to
NetworkManager: JSON cannot say whether 5 is a uint32 or an int32, and NetworkManager rejects
the wrong one.

Generated from nm-settings-dbus(5) of network-manager 1.42 for the settings tightrope reads
and writes, plus the keys added up to 1.52 that are known to matter (marked "newer"). A key
missing here falls back to inference from its JSON type (see to_dbus.py).
"""

from __future__ import annotations

_GROUPED: dict[str, dict[str, str]] = {
    "connection": {
        "i": "auth-retries autoconnect-priority autoconnect-retries autoconnect-slaves "
        "dns-over-tls lldp llmnr mdns metered multi-connect wait-activation-delay "
        "wait-device-timeout"
        # newer
        " autoconnect-ports down-on-poweroff ip-ping-addresses-require-all",
        "s": "id interface-name master mud-url slave-type stable-id type uuid zone"
        # newer
        " controller port-type",
        "b": "autoconnect read-only",
        "u": "gateway-ping-timeout mptcp-flags"
        # newer
        " ip-ping-timeout",
        "as": "permissions secondaries"
        # newer
        " ip-ping-addresses",
        "t": "timestamp",
    },
    "bond": {"s": "interface-name", "a{ss}": "options"},
    "bond-port": {"u": "queue-id", "i": "prio"},
    "802-3-ethernet": {
        "s": "assigned-mac-address duplex generate-mac-address-mask port s390-nettype "
        "wake-on-lan-password",
        "u": "mtu speed wake-on-lan",
        "ay": "cloned-mac-address mac-address",
        "as": "mac-address-blacklist s390-subchannels mac-address-denylist",
        "i": "accept-all-mac-addresses",
        "b": "auto-negotiate",
        "a{ss}": "s390-options",
    },
    "802-11-wireless": {
        "u": "channel mac-address-randomization mtu powersave rate tx-power wake-on-wlan",
        "s": "assigned-mac-address band generate-mac-address-mask mode security",
        "ay": "bssid cloned-mac-address mac-address ssid",
        "as": "mac-address-blacklist seen-bssids mac-address-denylist",
        "i": "ap-isolation channel-width",
        "b": "hidden",
    },
    "802-11-wireless-security": {
        "s": "auth-alg key-mgmt leap-password leap-username psk wep-key0 wep-key1 wep-key2 "
        "wep-key3",
        "u": "leap-password-flags psk-flags wep-key-flags wep-key-type wep-tx-keyidx wps-method",
        "as": "group pairwise proto",
        "i": "fils pmf",
    },
    "802-1x": {
        "s": "anonymous-identity ca-cert-password ca-path client-cert-password domain-match "
        "domain-suffix-match identity pac-file password phase1-fast-provisioning "
        "phase1-peaplabel phase1-peapver phase2-auth phase2-autheap phase2-ca-cert-password "
        "phase2-ca-path phase2-client-cert-password phase2-domain-match "
        "phase2-domain-suffix-match phase2-private-key-password phase2-subject-match pin "
        "private-key-password subject-match openssl-ciphers",
        "u": "ca-cert-password-flags client-cert-password-flags password-flags "
        "password-raw-flags phase1-auth-flags phase2-ca-cert-password-flags "
        "phase2-client-cert-password-flags phase2-private-key-password-flags pin-flags "
        "private-key-password-flags",
        "ay": "ca-cert client-cert password-raw phase2-ca-cert phase2-client-cert "
        "phase2-private-key private-key",
        "as": "altsubject-matches eap phase2-altsubject-matches",
        "b": "optional system-ca-certs",
        "i": "auth-timeout",
    },
    "ipv4": {
        "i": "auto-route-ext-gw dad-timeout dhcp-timeout dns-priority link-local "
        "replace-local-rule required-timeout"
        # newer
        " dhcp-send-release forwarding routed-dns shared-dhcp-lease-time "
        "dhcp-ipv6-only-preferred",
        "s": "dhcp-client-id dhcp-fqdn dhcp-hostname dhcp-iaid dhcp-vendor-class-identifier "
        "gateway method"
        # newer
        " dhcp-dscp shared-dhcp-range",
        "b": "dhcp-send-hostname ignore-auto-dns ignore-auto-routes may-fail never-default",
        "as": "dhcp-reject-servers dns-data dns-options dns-search",
        "aa{sv}": "address-data route-data routing-rules",
        "aau": "addresses routes",
        "u": "dhcp-hostname-flags route-table",
        "au": "dns",
        "x": "route-metric",
    },
    "ipv6": {
        "i": "addr-gen-mode auto-route-ext-gw dad-timeout dhcp-timeout dns-priority "
        "ip6-privacy ra-timeout replace-local-rule required-timeout"
        # newer
        " dhcp-send-release forwarding routed-dns temp-valid-lifetime "
        "temp-preferred-lifetime",
        "s": "dhcp-duid dhcp-hostname dhcp-iaid gateway method token"
        # newer
        " dhcp-pd-hint",
        "b": "dhcp-send-hostname ignore-auto-dns ignore-auto-routes may-fail never-default",
        "as": "dhcp-reject-servers dns-data dns-options dns-search",
        "aa{sv}": "address-data route-data routing-rules",
        "u": "dhcp-hostname-flags mtu route-table",
        "a(ayuay)": "addresses",
        "aay": "dns",
        "x": "route-metric",
        "a(ayuayu)": "routes",
    },
    "match": {"as": "driver interface-name kernel-command-line path"},
    "proxy": {"s": "pac-script pac-url", "b": "browser-only", "i": "method"},
    "user": {"a{ss}": "data"},
    "hostname": {"i": "from-dhcp from-dns-lookup only-from-default priority"},
    "loopback": {"u": "mtu"},
}

SIGNATURES: dict[str, dict[str, str]] = {
    setting: {key: sig for sig, keys in groups.items() for key in keys.split()}
    for setting, groups in _GROUPED.items()
}

# Fields inside the a{sv} entries of address-data / route-data / routing-rules. Integers not
# listed are sent as uint32, which is what NetworkManager uses for most of them.
ENTRY_FIELDS: dict[str, str] = {
    "address": "s",
    "prefix": "u",
    "dest": "s",
    "next-hop": "s",
    "metric": "u",
    "table": "u",
    "src": "s",
    "from": "s",
    "to": "s",
    "type": "s",
    "tos": "y",
    "scope": "y",
    "onlink": "b",
    "lock-mtu": "b",
    "lock-window": "b",
    "lock-cwnd": "b",
    "lock-initcwnd": "b",
    "lock-initrwnd": "b",
    "lock-advmss": "b",
    "quickack": "b",
    "priority": "u",
    "family": "i",
    "action": "y",
    "invert": "b",
    "fwmark": "u",
    "fwmask": "u",
    "from-len": "y",
    "to-len": "y",
    "iifname": "s",
    "oifname": "s",
    "ipproto": "y",
    "suppress-prefixlength": "i",
    "uid-range-start": "u",
    "uid-range-end": "u",
    "weight": "u",
    "sport-start": "q",
    "sport-end": "q",
    "dport-start": "q",
    "dport-end": "q",
}


def signature_of(setting: str, key: str) -> str | None:
    return SIGNATURES.get(setting, {}).get(key)
