#!/usr/bin/env bash
# lab.timeouts: live expiry with netflowd --nflog (IPFIX, workers=2, active_timeout=2,
# inactive_timeout=1). A forwarded UDP stream (1000 datagrams/s for 4.5 s, known sizes) must be
# split into records of at most 2 s ended by the active timeout (flowEndReason 2), the last
# one by the inactive timeout (1), each record exactly a run of consecutive datagrams; a flow
# sending 3 datagrams, pausing 3 s, then 2 more must be two records ended by the inactive
# timeout; nothing is left for the SIGTERM flush. (4.5 s, not 5: the last record, from 4 s
# on, must go idle (at 5.5 s) before its active timeout (at 6 s) so that its reason is
# certain: 1.)
# usage: timeouts.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require iptables ip6tables
lab_init
lab_setup
lab_start_sinks
lab_start_capture
PORT=9995 GROUP=61 RATE=1000
lab_start_collector ipfix "$PORT"
lab_iptables_nflog "$GROUP" FORWARD
lab_start_netflowd nflog --nflog "$GROUP" "destination=127.0.0.1:$PORT" protocol=10 workers=2 \
    active_timeout=2 inactive_timeout=1
lab_traffic in_client udp --src "$C4" --dst "$S4" --sport 30000 --dport 5001 --duration 4.5 --rate "$RATE"
lab_traffic in_client udp --src "$C4" --dst "$S4" --sport 30001 --dport 5001 --count 3 --size 100
sleep 3
lab_traffic in_client udp --src "$C4" --dst "$S4" --sport 30001 --dport 5001 --count 2 --size 100
# Idle flows are exported within inactive_timeout plus one expiry sweep (about 1 s).
sleep 3
lab_stop_netflowd nflog
lab_stop_capture
lab_stop_collector ipfix "$PORT"
lab_check timeouts timeouts nflog ipfix "$PORT" --active-timeout 2 --rate "$RATE" --bursts 3,2
