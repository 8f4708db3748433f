#!/usr/bin/env bash
# Checks the oracle itself: for every link type, nfgen's expected CSV and its
# non_ip/malformed counts must agree with an independent tshark dissection of
# the capture (tests/gen/tshark_crosscheck.py), and the output must be
# byte-identical for the same seed.
# usage: nfgen_tshark.sh NFGEN
set -euo pipefail
if [[ $# -ne 1 ]]; then
    echo "usage: $0 NFGEN" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
require_tools tshark python3
nfgen=$1
crosscheck="$INTEGRATION_DIR/../gen/tshark_crosscheck.py"

failed=()
for linktype in en10mb sll sll2 raw; do
    log "[$linktype] nfgen + tshark cross-check"
    for run in a b; do
        nsh_run "$nfgen" --out "$WORKDIR/$linktype-$run.pcap" --expected "$WORKDIR/$linktype-$run.csv" \
            --packets 20000 --flows 2000 --seed 42 --linktype "$linktype" >"$WORKDIR/$linktype-$run.out"
    done
    if ! cmp -s "$WORKDIR/$linktype-a.pcap" "$WORKDIR/$linktype-b.pcap" ||
        ! cmp -s "$WORKDIR/$linktype-a.csv" "$WORKDIR/$linktype-b.csv"; then
        echo "FAIL [$linktype]: two runs with the same seed differ"
        failed+=("$linktype")
        continue
    fi
    nsh_run python3 "$crosscheck" "$WORKDIR/$linktype-a.pcap" "$WORKDIR/$linktype-a.csv" "$WORKDIR/$linktype-a.out" ||
        failed+=("$linktype")
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED link types: ${failed[*]}"
    exit 1
fi
echo "nfgen agrees with tshark for all link types"
