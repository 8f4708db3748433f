#!/usr/bin/env bash
# lab.nflog_nftables: an nftables `inet` table in the router with `log group G` in its
# input and forward chains and `log group G2` in its output chain (IPv4 and IPv6 through
# the same rules), netflowd --nflog G,G2 (two NFLOG sources) exporting NetFlow v9 with
# direction=1. The same checks as lab.nflog_iptables (v9: no record times checked).
# usage: nflog_nftables.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require nft
lab_init
lab_setup
lab_start_sinks
lab_start_capture
PORT=9995 GROUP=23 GROUP2=24
lab_start_collector v9 "$PORT"
in_router nft -f - <<NFT
table inet netflowd_lab {
    chain input { type filter hook input priority 0; policy accept; iifname != "lo" log group $GROUP; }
    chain output { type filter hook output priority 0; policy accept; oifname != "lo" log group $GROUP2; }
    chain forward { type filter hook forward priority 0; policy accept; log group $GROUP; }
}
NFT
lab_start_netflowd nflog --nflog "$GROUP,$GROUP2" "destination=127.0.0.1:$PORT" protocol=9 direction=1 workers=2 \
    active_timeout=600 inactive_timeout=300
lab_standard_traffic
lab_settle
lab_stop_netflowd nflog
lab_stop_capture
lab_stop_collector v9 "$PORT"
lab_check check nflog_nftables nflog v9 "$PORT" --source nflog --protocol 9 --direction --records-per-flow
