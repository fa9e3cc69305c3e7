#!/bin/sh
# The box's own access point, so wlan0 has a real WPA2 network to join. The second hwsim radio
# (wlan1) and the second NIC (eth1, wired to the lab LAN) leave the root namespace for netns
# "ap", where they are bridged and hostapd serves the lab SSID. Runs before NetworkManager so
# NetworkManager never sees them as candidates for the box's own profiles.
set -eu

arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "trl.$1="*) echo "${w#trl.$1=}"; return 0 ;; esac
    done
}

i=0
while ! { [ -e /sys/class/net/wlan1/phy80211 ] && [ -e /sys/class/net/eth1 ]; }; do
    i=$((i + 1))
    if [ "$i" -gt 300 ]; then
        echo "wlan1 or eth1 never appeared" >&2
        exit 1
    fi
    sleep 0.1
done

# Every VM's hwsim radio 0 has the same MAC; boxes sharing a LAN need distinct ones.
mac=$(arg wlanmac)
if [ -n "$mac" ] && [ "$(cat /sys/class/net/wlan0/address)" != "$mac" ]; then
    ip link set wlan0 down
    ip link set wlan0 address "$mac"
fi

phy=$(basename "$(readlink -f /sys/class/net/wlan1/phy80211)")
uplink_mac=$(cat /sys/class/net/eth1/address)
ip netns add ap 2>/dev/null || true
# The AP's bridge carries no address of its own: keep it silent on the LAN (no IPv6 DAD/ND).
ip netns exec ap sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
iw phy "$phy" set netns name ap
ip link set eth1 netns ap
ip -n ap link set lo up
ip -n ap link add br0 type bridge forward_delay 0
ip -n ap link set br0 address "$uplink_mac"
ip -n ap link set eth1 master br0
ip -n ap link set eth1 up
ip -n ap link set br0 up
