#!/usr/bin/env bash
# integration.export_gso: netflowd --read, unpaced (export_rate=0, so runs of datagrams go out
# with UDP segmentation offload), exports NetFlow v9 over a veth to nfcapd in another network
# namespace; nfdump's totals must equal netflowd's (records, packets, bytes), with no sequence
# failure. Twice:
#   - MTU 1500: the datagrams fit; runs must have been sent (gso_sends > 0);
#   - MTU 1300: the 1,420-byte datagrams do not fit the path; the kernel refuses the runs,
#     netflowd must log that once, send datagram by datagram (fragmented) and lose nothing
#     (gso_sends = 0).
# nfcapd gets a 32 MiB receive buffer: an unpaced replay outruns any collector otherwise.
# usage: export_gso.sh NETFLOWD NFGEN
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NFGEN" >&2; exit 2; }
NETFLOWD=$1 NFGEN=$2
NSH_NAME=integration.export_gso NSH_FAMILY=nfgso NSH_ROLES="sender|collector" NSH_DEADLINE=200 NSH_KEEP=fail
source "$(dirname "$0")/../netns_lib.sh"
nsh_require_root_and_tools ip nfcapd nfdump sysctl
nsh_init gso
NS_A=$NSH_PREFIX-sender NS_B=$NSH_PREFIX-collector
PORT=2055 RC=0

fail() { nsh_log "FAIL: $*"; RC=1; }

nsh_run "$NFGEN" --out "$NSH_WORK/input.pcap" --expected "$NSH_WORK/expected.csv" --packets 100000 --flows 10000 \
    --seed 5 >/dev/null

# The collector's receive buffer may exceed net.core.rmem_max only as far as that allows.
old_rmem=$(sysctl -n net.core.rmem_max)
if ((old_rmem < 33554432)); then
    NSH_RESTORE_SYSCTLS+=("net.core.rmem_max=$old_rmem")
    sysctl -qw net.core.rmem_max=33554432
fi

run_mtu() { # MTU
    local mtu=$1 dir=$NSH_WORK/mtu$1 summary
    mkdir -p "$dir/flows"
    nsh_add_namespace "$NS_A"
    nsh_add_namespace "$NS_B"
    ip -n "$NS_A" link add vA type veth peer name vB netns "$NS_B"
    ip -n "$NS_A" addr add 10.98.0.1/24 dev vA
    ip -n "$NS_B" addr add 10.98.0.2/24 dev vB
    ip -n "$NS_A" link set vA mtu "$mtu" up
    ip -n "$NS_B" link set vB mtu "$mtu" up
    nsh_bg_in "$NS_B" nfcapd -w "$dir/flows" -b 10.98.0.2 -p "$PORT" -B 33554432
    local nfcapd_pid=$NSH_LAST_PID
    nsh_wait_until 10 "nfcapd on 10.98.0.2:$PORT" \
        bash -c "ip netns exec '$NS_B' ss -Hlun 'sport = :$PORT' | grep -q 10.98.0.2" || fail "nfcapd did not start"
    ip netns exec "$NS_A" "$NETFLOWD" --read "$NSH_WORK/input.pcap" "destination=10.98.0.2:$PORT" protocol=9 \
        export_rate=0 >"$dir/netflowd.out" 2>"$dir/netflowd.err" || fail "MTU $mtu: netflowd exited with $?"
    # Everything sent has been received once nfcapd's socket is empty.
    nsh_wait_until 10 "nfcapd's queue drained" \
        bash -c "[[ \$(ip netns exec '$NS_B' ss -Hlun 'sport = :$PORT' | awk '{print \$2}') == 0 ]]" ||
        fail "MTU $mtu: nfcapd's socket queue did not drain"
    kill -TERM "$nfcapd_pid"
    wait "$nfcapd_pid" || true
    nsh_forget "$nfcapd_pid"
    nsh_remove_namespace "$NS_A"
    nsh_remove_namespace "$NS_B"

    summary=$(grep '^netflowd: summary ' "$dir/netflowd.err") || { fail "MTU $mtu: no summary"; return; }
    field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$summary"; }
    local records packets bytes gso lost
    records=$(field records) packets=$(field metered) bytes=$(field bytes) gso=$(field gso_sends)
    lost=$(field lost_datagrams)
    local totals
    totals=$(nfdump -R "$dir/flows" -I 2>/dev/null)
    tot() { awk -v k="$1:" '$1 == k { print $2 }' <<<"$totals"; }
    local seq
    seq=$(awk '$1 == "Sequence" { print $3 }' <<<"$totals")
    nsh_log "MTU $mtu: netflowd records $records packets $packets bytes $bytes gso_sends $gso lost $lost;" \
        "nfdump flows $(tot Flows) packets $(tot Packets) bytes $(tot Bytes), sequence failures $seq"
    [[ $(tot Flows) == "$records" && $(tot Packets) == "$packets" && $(tot Bytes) == "$bytes" ]] ||
        fail "MTU $mtu: nfdump's totals differ from netflowd's"
    [[ $seq == 0 ]] || fail "MTU $mtu: sequence failures: ${seq:-?}"
    [[ $lost == 0 ]] || fail "MTU $mtu: lost_datagrams=$lost"
    if ((mtu >= 1500)); then
        ((gso > 0)) || fail "MTU $mtu: no run of datagrams was sent"
    else
        ((gso == 0)) || fail "MTU $mtu: gso_sends=$gso where the kernel must refuse runs"
        [[ $(grep -c 'refuses UDP segmentation' "$dir/netflowd.err") == 1 ]] ||
            fail "MTU $mtu: the refusal was not logged exactly once"
    fi
}

run_mtu 1500
run_mtu 1300
((RC == 0)) && nsh_log "PASS"
exit "$RC"
