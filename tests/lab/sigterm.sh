#!/usr/bin/env bash
# lab.sigterm: a forwarded UDP stream client->server (3000 datagrams/s, sizes 16 +
# (i * 7919) % 1200 bytes) metered by netflowd --nflog (IPFIX, workers=2); SIGTERM to
# netflowd after 2 s while the stream runs; the stream stops only after netflowd exited.
# What is exactly checkable (see README.md): netflowd's own accounting (packets read =
# metered + dropped + own export; no source/queue drops); every metered packet reached the
# collector (all records sum to the summary's metered packets/bytes, in nfdump and tshark);
# the stream's metered datagrams are exactly its first N (bytes = prefix sum of the known
# sizes), 0 < N < sent, one record with flowEndReason 4; N lies between the datagrams the
# capture on r0 saw 0.25 s before the SIGTERM and those it saw before netflowd exited; the
# exit takes at most 5 s.
# usage: sigterm.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require iptables ip6tables
lab_init
lab_setup
lab_start_sinks
lab_start_capture
PORT=9995 GROUP=53
lab_start_collector ipfix "$PORT"
lab_iptables_nflog "$GROUP" FORWARD
lab_start_netflowd nflog --nflog "$GROUP" "destination=127.0.0.1:$PORT" protocol=10 workers=2 \
    active_timeout=600 inactive_timeout=300
STOP_FILE="$NSH_WORK/stop-stream"
lab_bg client python3 "$LAB_DIR/labtraffic.py" udp --src "$C4" --dst "$S4" --sport 30000 --dport 5001 \
    --duration 30 --stop-file "$STOP_FILE" --rate 3000 >"$NSH_WORK/flows.jsonl"
STREAM_PID=$NSH_LAST_PID
sleep 2
lab_stop_netflowd nflog
lab_log "SIGTERM at $LAB_STOP_AT, netflowd exited after $LAB_STOP_SECONDS s"
sleep 0.5
touch "$STOP_FILE"
wait "$STREAM_PID" || lab_fail "stream generator failed"
nsh_forget "$STREAM_PID"
lab_settle
lab_stop_capture
lab_stop_collector ipfix "$PORT"
lab_check sigterm sigterm nflog ipfix "$PORT" --sigterm-at "$LAB_STOP_AT" --stop-seconds "$LAB_STOP_SECONDS"
