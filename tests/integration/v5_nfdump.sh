#!/usr/bin/env bash
# End-to-end: 1,000,000-packet Ethernet capture from nfgen, metered by
# netflowd, exported as NetFlow v5 to nfcapd on 127.0.0.1 while tshark
# captures the datagrams; compare_flows.py checks everything against nfgen.
# usage: v5_nfdump.sh NETFLOWD NFGEN
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 NETFLOWD NFGEN" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
require_tools nfcapd nfdump tshark ss python3
run_v5_case "$1" "$2" en10mb 1000000 100000 1
