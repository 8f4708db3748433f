#!/usr/bin/env bash
# The v5_nfdump.sh checks, smaller (50,000 packets), for the other link types
# netflowd reads: Linux cooked v1 and v2, and raw IP.
# usage: linktypes.sh NETFLOWD NFGEN [LINKTYPE...]   (default: sll sll2 raw)
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 NETFLOWD NFGEN [LINKTYPE...]" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
require_tools nfcapd nfdump tshark ss python3
netflowd=$1 nfgen=$2
shift 2
linktypes=("$@")
[[ ${#linktypes[@]} -gt 0 ]] || linktypes=(sll sll2 raw)

failed=()
for linktype in "${linktypes[@]}"; do
    case $linktype in # a fixed seed per link type, whatever the order
        en10mb) seed=100 ;;
        sll) seed=101 ;;
        sll2) seed=102 ;;
        raw) seed=103 ;;
        *) echo "unknown link type: $linktype" >&2; exit 2 ;;
    esac
    run_v5_case "$netflowd" "$nfgen" "$linktype" 50000 5000 "$seed" || failed+=("$linktype")
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED link types: ${failed[*]}" >&2
    exit 1
fi
echo "all link types passed: ${linktypes[*]}"
