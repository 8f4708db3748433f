#!/usr/bin/env bash
# control.dead_collector: netflowd --nflog (NetFlow v5, workers=2, inactive_timeout=1) exports
# to a port on the router's lo where nothing listens (tshark on lo sees what is really sent).
#   - while nothing listens: every datagram goes out (a pending ICMP error never makes a send
#     fail: netflowd reads ICMP errors from the socket's error queue), each draws a port
#     unreachable that netflowd matches to the datagram it quotes, so stat shows cberr =
#     lost datagrams = datagrams, and all their flows as lost, the same in every view;
#   - then nfcapd starts on that port: export resumes without any intervention (new flows
#     reach nfcapd, sent grows, cberr stops growing), and every flow metered after the start
#     reaches nfcapd (none is lost);
#   - at exit: the summary's datagrams = datagrams on the wire (tshark), records - lost_flows =
#     records nfcapd got, and its lost_flows / send_errors equal what stat showed.
# usage: dead_collector.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
ctl_init
ctl_setup
MARK=9 PORT=9997
ctl_start_tshark_lo lo "$MARK" "$PORT"
nsh_bound "$PORT" && ctl_fail "something listens on 127.0.0.1:$PORT in the fresh router namespace"
ctl_start_netflowd "destination=127.0.0.1:$PORT" protocol=5 workers=2 active_timeout=1800 inactive_timeout=1
jq_() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
jnow() { nfctl stat --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# Rounds of new flows; each round's records go out about 2 s later (inactive timeout 1 s, then
# at most 1 s in a partly filled datagram). 40 flows a round: a full v5 datagram (30 records)
# at once and a second one later.
SENT_FLOWS=0
round() { # SPORT
    ctl_udp --sport "$1" --dport 5001 --flows 40 --count 2 --size 60
    SENT_FLOWS=$((SENT_FLOWS + 40))
}
# Every flow so far is in a datagram that was sent or refused (none waits in the cache or in
# a partly filled datagram): stat --snmp outFlows + lostFlows.
exported_all() {
    [[ $(nfctl stat --snmp | awk '$1 == "outFlows" || $1 == "lostFlows" { n += $2 } END { print n + 0 }') == "$SENT_FLOWS" ]]
}
for r in 1 2; do
    round $((50000 + r * 100))
    nsh_wait_until 10 "the records of round $r" exported_all || ctl_error "round $r was not exported"
done
# The port unreachable of the last datagram is read at the export thread's next tick.
all_refused() {
    nfctl_ok stat --json >"$NSH_WORK/dead.json"
    [[ $(jq_ "$NSH_WORK/dead.json" 'j["export"]["lost_datagrams"]') == $(jq_ "$NSH_WORK/dead.json" 'j["export"]["datagrams"]') ]]
}
nsh_wait_until 5 "every datagram's port unreachable" all_refused || ctl_error "not every datagram was matched to its ICMP error"
nfctl_ok stat >"$NSH_WORK/dead.txt"
nfctl_ok stat --json >"$NSH_WORK/dead.json"
nfctl_ok stat --snmp >"$NSH_WORK/dead.snmp"
grep -E '^(Export|sock0):' "$NSH_WORK/dead.txt" >&2
cberr=$(jq_ "$NSH_WORK/dead.json" 'j["destinations"][0]["err_cberr"]')
lost=$(jq_ "$NSH_WORK/dead.json" 'j["export"]["lost_datagrams"]')
lost_flows=$(jq_ "$NSH_WORK/dead.json" 'j["export"]["lost_flows"]')
sent=$(jq_ "$NSH_WORK/dead.json" 'j["destinations"][0]["sent"]')
((cberr > 0)) || ctl_error "nothing listens on $PORT, yet stat --json shows err_cberr $cberr"
((lost > 0 && lost_flows > 0)) || ctl_error "nothing listens, yet lost_datagrams $lost, lost_flows $lost_flows"
grep -qE "^sock0: 127\.0\.0\.1:$PORT, sndbuf [0-9]+; sent $sent; err: sndbuf reached 0, connect 0, cberr $cberr, other 0$" \
    "$NSH_WORK/dead.txt" || ctl_error "stat: sock0 line does not show sent $sent, cberr $cberr: $(grep '^sock0' "$NSH_WORK/dead.txt")"
grep -qE "^Export: Rate [0-9]+ bytes/s; Total [0-9]+ pkts, [0-9]+ MB, [0-9]+ flows; Errors $lost pkts; Traffic lost [0-9]+ pkts, [0-9]+ Kbytes, $lost_flows flows\.$" \
    "$NSH_WORK/dead.txt" || ctl_error "stat: Export line does not show $lost lost datagrams, $lost_flows lost flows"
grep -qE "^errTotal +$cberr$" "$NSH_WORK/dead.snmp" || ctl_error "stat --snmp: $(grep errTotal "$NSH_WORK/dead.snmp"), expected $cberr"
grep -qE "^lostFlows +$lost_flows$" "$NSH_WORK/dead.snmp" || ctl_error "stat --snmp: $(grep lostFlows "$NSH_WORK/dead.snmp"), expected $lost_flows"
ctl_check stat --text "$NSH_WORK/dead.txt" --json "$NSH_WORK/dead.json" --snmp "$NSH_WORK/dead.snmp" --settled ||
    ctl_error "the stat views disagree while the collector is dead"
# Each datagram went out and drew a port unreachable matched to it.
(( sent == $(jq_ "$NSH_WORK/dead.json" 'j["export"]["datagrams"]') )) ||
    ctl_error "sent $sent != datagrams $(jq_ "$NSH_WORK/dead.json" 'j["export"]["datagrams"]'): a send failed"
((cberr == lost)) || ctl_error "one destination: every datagram answered by port unreachable is lost, yet cberr $cberr, lost $lost"
((lost_flows == SENT_FLOWS)) || ctl_error "all $SENT_FLOWS flows went to a dead collector, yet lost_flows $lost_flows"
ctl_log "dead collector: sent $sent, cberr $cberr, lost $lost datagrams / $lost_flows flows"

# The collector comes up: export resumes by itself.
ctl_start_nfcapd live "$PORT"
ctl_log "nfcapd started on 127.0.0.1:$PORT"
FLOWS_BEFORE=$SENT_FLOWS
for r in 3 4; do
    round $((50000 + r * 100))
    nsh_wait_until 10 "the records of round $r" exported_all || ctl_error "round $r was not exported"
done
nfctl_ok stat --json >"$NSH_WORK/live.json"
cberr2=$(jq_ "$NSH_WORK/live.json" 'j["destinations"][0]["err_cberr"]')
lost2=$(jq_ "$NSH_WORK/live.json" 'j["export"]["lost_datagrams"]')
lost_flows2=$(jq_ "$NSH_WORK/live.json" 'j["export"]["lost_flows"]')
sent2=$(jq_ "$NSH_WORK/live.json" 'j["destinations"][0]["sent"]')
ctl_log "collector up: sent $sent2, cberr $cberr2, lost $lost2 datagrams / $lost_flows2 flows"
((sent2 > sent)) || ctl_error "nothing sent after the collector started (sent $sent -> $sent2)"
((cberr2 <= cberr + 1)) || ctl_error "cberr kept growing after the collector started: $cberr -> $cberr2"
ctl_stop_netflowd
ctl_stop_tshark lo
ctl_stop_nfcapd live "$PORT"

# What nfcapd got: every flow of rounds 3-4, except those in at most one refused datagram.
ctl_nfdump live >"$NSH_WORK/live.nfdump"
python3 - "$NSH_WORK/live.nfdump" "$NSH_WORK/flows.jsonl" "$FLOWS_BEFORE" "$((lost_flows2 - lost_flows))" <<'EOF' ||
import json, sys
got = {}
for line in open(sys.argv[1]):
    c = line.split()
    got[int(c[2])] = (int(c[5]), int(c[6]))
flows = [json.loads(l) for l in open(sys.argv[2])]
before, lost_after = int(sys.argv[3]), int(sys.argv[4])
after = flows[before:]
missing = [f["sport"] for f in after if f["sport"] not in got]
wrong = [(f["sport"], got[f["sport"]]) for f in after
         if f["sport"] in got and got[f["sport"]] != (f["packets"], f["bytes"])]
old = sorted(p for p in got if p in {f["sport"] for f in flows[:before]})
print(f"nfcapd: {len(got)} flows; of the {len(after)} sent after it started {len(missing)} missing "
      f"(netflowd counted {lost_after} flows lost after the start)")
ok = True
if wrong:
    print(f"MISMATCH: wrong totals at the collector: {wrong[:5]}"); ok = False
if len(missing) != lost_after:
    print(f"MISMATCH: {len(missing)} flows missing at the collector, netflowd counted {lost_after} lost"); ok = False
if lost_after != 0:
    print(f"MISMATCH: {lost_after} flows lost after the collector started"); ok = False
last = [f["sport"] for f in flows[-40:]]
if any(p not in got for p in last):
    print("MISMATCH: the last round did not reach the collector"); ok = False
if old:
    print(f"MISMATCH: flows sent while nothing listened reached the collector: {old[:5]}"); ok = False
sys.exit(0 if ok else 1)
EOF
    ctl_error "the collector's flows after it started do not add up"

# The summary: what went on the wire is what tshark saw; the loss counters as stat said.
summary() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$NSH_WORK/summary"; }
wire=$(awk -F'\t' -v p="$PORT" '$2 == p && $3 == "5"' "$NSH_WORK/lo.export" | wc -l)
wire_records=$(awk -F'\t' -v p="$PORT" '$2 == p && $3 == "5" { n += split($5, a, ",") } END { print n + 0 }' \
    "$NSH_WORK/lo.export")
ctl_log "tshark: $wire v5 datagrams with $wire_records records on the wire"
(($(summary datagrams) == wire)) || ctl_error "summary datagrams $(summary datagrams) != $wire on the wire"
(($(summary records) == wire_records)) ||
    ctl_error "summary records $(summary records) != $wire_records records on the wire"
(($(summary records) == SENT_FLOWS)) || ctl_error "summary records $(summary records), flows sent $SENT_FLOWS"
(($(summary lost_flows) == lost_flows2 && $(summary lost_datagrams) == lost2)) ||
    ctl_error "summary lost $(summary lost_datagrams)/$(summary lost_flows), stat said $lost2/$lost_flows2"
(($(summary send_errors) == cberr2)) || ctl_error "summary send_errors $(summary send_errors), stat cberr $cberr2"
grep -q "destination 127.0.0.1:$PORT: sent $sent2, errors: sndbuf reached 0, connect 0, cberr $cberr2, other 0" \
    "$NSH_WORK/netflowd.err" || ctl_error "no exit warning with the destination's counters: $(grep destination "$NSH_WORK/netflowd.err")"
ctl_finish
