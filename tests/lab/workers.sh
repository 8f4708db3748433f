#!/usr/bin/env bash
# lab.workers: netflowd --nflog with workers=4 (flows sharded over four flow caches) and
# NetFlow v9, and at the same time netflowd --interface r0 with workers=4 (four AF_PACKET
# rings in a fanout group) and IPFIX; 2000 IPv4 + 500 IPv6 forwarded UDP flows (distinct
# source ports, 4 datagrams each, sent round-robin so that all flows are live at once,
# sizes differing per flow).
# Timeouts are far longer than the run: every flow must be exactly one record (no key
# exported twice, no flow split or lost between workers) with exactly the packets and
# bytes sent, in nfdump and in tshark's decode; all records sum to netflowd's totals.
# The NFLOG worker must have handed packets on to the others; the AF_PACKET rings, steered
# by the kernel (fanout program), must have handed none on. Both exports must have sent runs
# of datagrams in one system call (export_gso), which tshark sees cut into datagrams on lo.
# A third netflowd reads two NFLOG groups that an nftables rule fills by a hash of each
# packet's addresses and ports (every packet of a flow in one group), with workers=2 and
# nflog_split=1: each worker meters all of its group's packets, none is handed on, and the
# records are as exact as the others' (no flow split between the two workers).
# usage: workers.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require iptables ip6tables nft
lab_init
lab_setup
lab_start_sinks
lab_start_capture
PORT=9995 PORT_AF=9996 PORT_SPLIT=9997 GROUP=41 SPLIT_A=51 SPLIT_B=52
lab_start_collector v9 "$PORT"
lab_start_collector afpacket "$PORT_AF"
lab_start_collector split "$PORT_SPLIT"
lab_iptables_nflog "$GROUP" FORWARD
in_router nft -f - <<NFT
table inet netflowd_split {
    chain forward {
        type filter hook forward priority 0; policy accept;
        jhash ip saddr . ip daddr . th sport . th dport mod 2 seed 0x5 vmap { 0 : jump group_a, 1 : jump group_b }
        jhash ip6 saddr . ip6 daddr . th sport . th dport mod 2 seed 0x5 vmap { 0 : jump group_a, 1 : jump group_b }
    }
    chain group_a { counter log group $SPLIT_A; }
    chain group_b { counter log group $SPLIT_B; }
}
NFT
lab_start_netflowd nflog --nflog "$GROUP" "destination=127.0.0.1:$PORT" protocol=9 workers=4 \
    active_timeout=600 inactive_timeout=300
lab_start_netflowd afpacket --interface r0 "destination=127.0.0.1:$PORT_AF" protocol=10 workers=4 \
    active_timeout=600 inactive_timeout=300
lab_start_netflowd split --nflog "$SPLIT_A,$SPLIT_B" "destination=127.0.0.1:$PORT_SPLIT" protocol=9 workers=2 \
    nflog_split=1 active_timeout=600 inactive_timeout=300
lab_traffic in_client udp --src "$C4" --dst "$S4" --sport 20000 --dport 5001 --flows 2000 --count 4 \
    --size 18 --size-step 7 --rate 8000
lab_traffic in_client udp --src "$C6" --dst "$S6" --sport 20000 --dport 5001 --flows 500 --count 4 \
    --size 18 --size-step 13 --rate 8000
lab_settle
lab_stop_netflowd nflog
lab_stop_netflowd afpacket
lab_stop_netflowd split
lab_stop_capture
lab_stop_collector v9 "$PORT"
lab_stop_collector afpacket "$PORT_AF"
lab_stop_collector split "$PORT_SPLIT"
rc=0
lab_check workers workers-nflog nflog v9 "$PORT" || rc=1
lab_check workers workers-afpacket afpacket afpacket "$PORT_AF" || rc=1
lab_check workers workers-nflog-split split split "$PORT_SPLIT" || rc=1
# Packets read by one worker and metered by another: the one NFLOG group is read by one worker,
# which hands the flows of the other three on (their exact totals are checked above); the
# AF_PACKET rings are steered by the kernel's fanout program, so no IP packet crosses workers.
handed_on() { sed -n 's/^netflowd: summary .* handed_on=\([0-9]*\).*/\1/p' "$NSH_WORK/$1.err"; }
nflog_handed=$(handed_on nflog) af_handed=$(handed_on afpacket) split_handed=$(handed_on split)
lab_log "handed on between workers: nflog ${nflog_handed:-?}, afpacket ${af_handed:-?}, nflog_split ${split_handed:-?}"
[[ ${nflog_handed:-0} -gt 0 ]] || { lab_log "FAIL: the NFLOG source's worker handed no flow on"; rc=1; }
[[ $af_handed == 0 ]] || { lab_log "FAIL: AF_PACKET rings not steered: ${af_handed:-?} packets handed on"; rc=1; }
[[ $split_handed == 0 ]] || { lab_log "FAIL: nflog_split=1: ${split_handed:-?} packets handed on"; rc=1; }
# Both groups (so both workers) got a good share of the traffic: the split was exercised.
split_counts=$(in_router nft list table inet netflowd_split | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | tr '\n' ' ')
lab_log "packets logged to groups $SPLIT_A and $SPLIT_B: $split_counts"
for count in $split_counts; do
    [[ $count -gt 2000 ]] || { lab_log "FAIL: an NFLOG group of the split got only $count of 10000 packets"; rc=1; }
done
[[ $(wc -w <<<"$split_counts") == 2 ]] || { lab_log "FAIL: no counters read from the split rules"; rc=1; }
# The end-of-run export of 2500 flows goes out in runs of datagrams (export_gso, on by default):
# what tshark and nfdump checked above is what the kernel made of those runs.
gso_sends() { sed -n 's/^netflowd: summary .* gso_sends=\([0-9]*\).*/\1/p' "$NSH_WORK/$1.err"; }
nflog_gso=$(gso_sends nflog) af_gso=$(gso_sends afpacket)
lab_log "system calls that sent runs of datagrams: nflog ${nflog_gso:-?}, afpacket ${af_gso:-?}"
[[ ${nflog_gso:-0} -gt 0 && ${af_gso:-0} -gt 0 ]] || { lab_log "FAIL: no run of export datagrams was sent"; rc=1; }
exit "$rc"
