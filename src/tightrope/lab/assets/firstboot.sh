#!/bin/sh
# Puts the box into the start state named on the kernel command line (trl.state=...), once:
# the marker keeps a later reboot from undoing what a test (or tightrope) changed.
# The Wi-Fi credentials were written into the templates when the image was built, so no
# secret passes through any command line here.
set -eu

arg() {
    for w in $(cat /proc/cmdline); do
        case "$w" in "trl.$1="*) echo "${w#trl.$1=}"; return 0 ;; esac
    done
}

state=$(arg state)
states=/usr/local/lib/tightrope-lab/states
render() {
    sed -e "s|@ETH0@|$(arg eth0)|g" -e "s|@WLAN0@|$(arg wlan0)|g" -e "s|@GW@|$(arg gw)|g" \
        -e "s|@UUID@|$(cat /proc/sys/kernel/random/uuid)|g" "$1"
}
install_file() {  # template destination
    umask 077
    render "$1" > "$2.tmp"
    chmod 600 "$2.tmp"
    mv "$2.tmp" "$2"
}

host=$(arg host)
if [ -n "$host" ]; then
    echo "$host" > /etc/hostname
    hostname "$host"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$host" > /etc/hosts
fi

case "$state" in
    netplan)
        install_file "$states/netplan/50-cloud-init.yaml" /etc/netplan/50-cloud-init.yaml
        # The generator already ran this boot (before the file existed); render it now so
        # NetworkManager starts with netplan-eth0 and netplan-wlan0-<SSID> as on the seed's box.
        netplan generate
        ;;
    trixie)
        mkdir -p /usr/lib/netplan
        install_file "$states/trixie/00-network-manager-all.yaml" /usr/lib/netplan/00-network-manager-all.yaml
        install_file "$states/trixie/50-cloud-init.yaml" /etc/netplan/50-cloud-init.yaml
        netplan generate
        ;;
    rpios)
        d=/etc/NetworkManager/system-connections
        install_file "$states/rpios/Wired connection 1.nmconnection" "$d/Wired connection 1.nmconnection"
        install_file "$states/rpios/preconfigured.nmconnection" "$d/preconfigured.nmconnection"
        ;;
    "") ;;
    *) echo "unknown start state $state" >&2; exit 1 ;;
esac

mkdir -p /var/lib/tightrope-lab
echo "${state:-none}" > /var/lib/tightrope-lab/start-state
sync
