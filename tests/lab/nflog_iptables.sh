#!/usr/bin/env bash
# lab.nflog_iptables: iptables/ip6tables NFLOG rules in the router's INPUT, OUTPUT and
# FORWARD chains, netflowd --nflog exporting IPFIX with direction=1 to nfcapd in the router.
# The standard traffic mix (IPv4 and IPv6; forwarded, to and from the router) is checked
# per flow against the capture on the router's links: packets, bytes, input and output
# ifIndex, flowDirection (0 INPUT, 1 OUTPUT, 255 FORWARD).
# usage: nflog_iptables.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require iptables ip6tables
lab_init
lab_setup
lab_start_sinks
lab_start_capture
PORT=9995 GROUP=17
lab_start_collector ipfix "$PORT"
lab_iptables_nflog "$GROUP"
lab_start_netflowd nflog --nflog "$GROUP" "destination=127.0.0.1:$PORT" protocol=10 direction=1 workers=2 \
    active_timeout=600 inactive_timeout=300
lab_standard_traffic
lab_settle
lab_stop_netflowd nflog
lab_stop_capture
lab_stop_collector ipfix "$PORT"
lab_check check nflog_iptables nflog ipfix "$PORT" --source nflog --protocol 10 --direction --records-per-flow
