#!/usr/bin/env bash
# End-to-end, NetFlow v9 or IPFIX: an nfgen Ethernet capture (IPv4 and IPv6)
# metered by netflowd and exported to two independent collectors at once,
# nfcapd and pmacct's nfacctd, on 127.0.0.1, while tshark captures what goes
# to nfcapd; compare_flows.py checks both collectors and every datagram
# against nfgen's per-flow truth and docs/export-formats.md.
# usage: collectors.sh NETFLOWD NFGEN 9|10 [PACKETS (1000000)]
set -euo pipefail
if [[ $# -lt 3 || $# -gt 4 || ! $3 =~ ^(9|10)$ ]]; then
    echo "usage: $0 NETFLOWD NFGEN 9|10 [PACKETS]" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
require_tools nfcapd nfdump nfacctd tshark ss python3
packets=${4:-1000000}
seed=$((200 + $3)) # a fixed seed per protocol
run_case "$1" "$2" "$3" en10mb "$packets" $((packets / 10)) "$seed" nfacctd
