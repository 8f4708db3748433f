#!/usr/bin/env bash
# lab.afpacket: netflowd --interface r0 (AF_PACKET on the router's client-side link) and,
# at the same time, a second netflowd --nflog on the same traffic (iptables NFLOG rules),
# each exporting IPFIX with direction=1 to its own nfcapd in the router.
#   - AF_PACKET: every test flow seen on r0 (received: in = r0, direction 0; sent: out = r0,
#     direction 1) equals the capture on r0 (packets, bytes, ifIndexes, flowDirection);
#   - NFLOG: the same checks as lab.nflog_iptables;
#   - the forwarded test flows have the same packets/bytes in both.
# usage: afpacket.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require iptables ip6tables
lab_init
lab_setup
lab_start_sinks
lab_start_capture
PORT_AF=9995 PORT_NFLOG=9996 GROUP=31
lab_start_collector afpacket "$PORT_AF"
lab_start_collector nflog "$PORT_NFLOG"
lab_iptables_nflog "$GROUP"
lab_start_netflowd afpacket --interface r0 "destination=127.0.0.1:$PORT_AF" protocol=10 direction=1 workers=2 \
    active_timeout=600 inactive_timeout=300
lab_start_netflowd nflog --nflog "$GROUP" "destination=127.0.0.1:$PORT_NFLOG" protocol=10 direction=1 workers=2 \
    active_timeout=600 inactive_timeout=300
lab_standard_traffic
lab_settle
lab_stop_netflowd afpacket
lab_stop_netflowd nflog
lab_stop_capture
lab_stop_collector afpacket "$PORT_AF"
lab_stop_collector nflog "$PORT_NFLOG"
rc=0
lab_check check afpacket afpacket afpacket "$PORT_AF" --source afpacket:r0 --protocol 10 --direction \
    --records-per-flow --save-exported "$NSH_WORK/afpacket.exported.json" || rc=1
lab_check check afpacket-nflog nflog nflog "$PORT_NFLOG" --source nflog --protocol 10 --direction \
    --records-per-flow --save-exported "$NSH_WORK/nflog.exported.json" || rc=1
lab_log "checking afpacket vs nflog"
nsh_run python3 "$LAB_DIR/labflows.py" same-flows --label afpacket-vs-nflog --topology "$NSH_WORK/topology.json" \
    --flows "$NSH_WORK/flows.jsonl" --select forwarded \
    --first "$NSH_WORK/afpacket.exported.json" --first-name AF_PACKET \
    --second "$NSH_WORK/nflog.exported.json" --second-name NFLOG || rc=1
exit "$rc"
