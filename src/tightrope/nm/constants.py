"""NetworkManager's D-Bus names, enums and flags, taken from its introspection XML and
nm-dbus-interface.h (network-manager 1.42), so no other module spells a magic number."""

from __future__ import annotations

from enum import IntEnum, IntFlag

BUS_NAME = "org.freedesktop.NetworkManager"
NM_PATH = "/org/freedesktop/NetworkManager"
SETTINGS_PATH = "/org/freedesktop/NetworkManager/Settings"
OBJECT_MANAGER_PATH = "/org/freedesktop"

IFACE = "org.freedesktop.NetworkManager"
IFACE_SETTINGS = f"{IFACE}.Settings"
IFACE_CONNECTION = f"{IFACE}.Settings.Connection"
IFACE_DEVICE = f"{IFACE}.Device"
IFACE_WIRED = f"{IFACE}.Device.Wired"
IFACE_WIRELESS = f"{IFACE}.Device.Wireless"
IFACE_BOND = f"{IFACE}.Device.Bond"
IFACE_ACTIVE = f"{IFACE}.Connection.Active"
IFACE_IP4 = f"{IFACE}.IP4Config"
IFACE_IP6 = f"{IFACE}.IP6Config"
IFACE_AP = f"{IFACE}.AccessPoint"
IFACE_CHECKPOINT = f"{IFACE}.Checkpoint"
IFACE_PROPERTIES = "org.freedesktop.DBus.Properties"
IFACE_OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"

NO_OBJECT = "/"

# Names as nmcli prints them, so messages match what admins already know.
DEVICE_TYPES: dict[int, str] = {
    0: "unknown", 1: "ethernet", 2: "wifi", 5: "bt", 6: "olpc-mesh", 7: "wimax",
    8: "modem", 9: "infiniband", 10: "bond", 11: "vlan", 12: "adsl", 13: "bridge",
    14: "generic", 15: "team", 16: "tun", 17: "ip-tunnel", 18: "macvlan", 19: "vxlan",
    20: "veth", 21: "macsec", 22: "dummy", 23: "ppp", 24: "ovs-interface", 25: "ovs-port",
    26: "ovs-bridge", 27: "wpan", 28: "6lowpan", 29: "wireguard", 30: "wifi-p2p", 31: "vrf",
    32: "loopback", 33: "hsr", 34: "ipvlan",
}  # fmt: skip

DEVICE_STATES: dict[int, str] = {
    0: "unknown", 10: "unmanaged", 20: "unavailable", 30: "disconnected", 40: "prepare",
    50: "config", 60: "need-auth", 70: "ip-config", 80: "ip-check", 90: "secondaries",
    100: "activated", 110: "deactivating", 120: "failed",
}  # fmt: skip

# NM_DEVICE_STATE_REASON_* by value (0..67 as of 1.42), lower-case and hyphenated.
DEVICE_STATE_REASONS: tuple[str, ...] = (
    "none", "unknown", "now-managed", "now-unmanaged", "config-failed",
    "ip-config-unavailable", "ip-config-expired", "no-secrets", "supplicant-disconnect",
    "supplicant-config-failed", "supplicant-failed", "supplicant-timeout", "ppp-start-failed",
    "ppp-disconnect", "ppp-failed", "dhcp-start-failed", "dhcp-error", "dhcp-failed",
    "shared-start-failed", "shared-failed", "autoip-start-failed", "autoip-error",
    "autoip-failed", "modem-busy", "modem-no-dial-tone", "modem-no-carrier",
    "modem-dial-timeout", "modem-dial-failed", "modem-init-failed", "gsm-apn-failed",
    "gsm-registration-not-searching", "gsm-registration-denied", "gsm-registration-timeout",
    "gsm-registration-failed", "gsm-pin-check-failed", "firmware-missing", "removed",
    "sleeping", "connection-removed", "user-requested", "carrier", "connection-assumed",
    "supplicant-available", "modem-not-found", "bt-failed", "gsm-sim-not-inserted",
    "gsm-sim-pin-required", "gsm-sim-puk-required", "gsm-sim-wrong", "infiniband-mode",
    "dependency-failed", "br2684-failed", "modem-manager-unavailable", "ssid-not-found",
    "secondary-connection-failed", "dcb-fcoe-failed", "teamd-control-failed", "modem-failed",
    "modem-available", "sim-pin-incorrect", "new-activation", "parent-changed",
    "parent-managed-changed", "ovsdb-failed", "ip-address-duplicate", "ip-method-unsupported",
    "sriov-configuration-failed", "peer-not-found",
)  # fmt: skip

ACTIVE_STATES: dict[int, str] = {
    0: "unknown", 1: "activating", 2: "activated", 3: "deactivating", 4: "deactivated",
}  # fmt: skip


def device_type_name(value: int) -> str:
    return DEVICE_TYPES.get(value, f"type-{value}")


def device_state_name(value: int) -> str:
    return DEVICE_STATES.get(value, f"state-{value}")


def state_reason_name(value: int) -> str:
    if 0 <= value < len(DEVICE_STATE_REASONS):
        return DEVICE_STATE_REASONS[value]
    return f"reason-{value}"  # newer NetworkManager than this table


def active_state_name(value: int) -> str:
    return ACTIVE_STATES.get(value, f"state-{value}")


class CheckpointFlag(IntFlag):
    NONE = 0
    DESTROY_ALL = 0x01
    DELETE_NEW_CONNECTIONS = 0x02
    DISCONNECT_NEW_DEVICES = 0x04  # 1.6
    ALLOW_OVERLAPPING = 0x08  # 1.12
    NO_PRESERVE_EXTERNAL_PORTS = 0x10  # 1.38
    TRACK_INTERNAL_GLOBAL_DNS = 0x20  # 1.48


class RollbackResult(IntEnum):
    OK = 0
    ERR_NO_DEVICE = 1
    ERR_DEVICE_UNMANAGED = 2
    ERR_FAILED = 3


class AddFlag(IntFlag):
    """NM_SETTINGS_ADD_CONNECTION2_FLAG_*: exactly one of TO_DISK / IN_MEMORY is required."""

    NONE = 0
    TO_DISK = 0x1
    IN_MEMORY = 0x2
    BLOCK_AUTOCONNECT = 0x20


class UpdateFlag(IntFlag):
    NONE = 0
    TO_DISK = 0x1
    IN_MEMORY = 0x2
    IN_MEMORY_DETACHED = 0x4
    IN_MEMORY_ONLY = 0x8
    VOLATILE = 0x10
    BLOCK_AUTOCONNECT = 0x20
    NO_REAPPLY = 0x40


class ConnectionFlag(IntFlag):
    """NM_SETTINGS_CONNECTION_FLAG_*, the Flags property of a profile."""

    NONE = 0
    UNSAVED = 0x01
    NM_GENERATED = 0x02
    VOLATILE = 0x04
    EXTERNAL = 0x08


# NM_DEVICE_INTERFACE_FLAG_CARRIER (1.24): carrier for every device type, Wi-Fi included.
INTERFACE_FLAG_CARRIER = 0x10000

AP_FLAGS_PRIVACY = 0x1

# Settings whose secrets NetworkManager hands out only through GetSecrets.
SECRET_SETTINGS = (
    "802-11-wireless-security",
    "802-1x",
    "wireguard",
    "vpn",
    "pppoe",
    "gsm",
    "cdma",
    "macsec",
)
