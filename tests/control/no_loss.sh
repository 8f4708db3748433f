#!/usr/bin/env bash
# control.no_loss: run-time changes under continuous traffic lose nothing. netflowd --nflog
# (IPFIX, workers=2, --config FILE with active_timeout=1800 inactive_timeout=300) meters 400
# UDP flows (known sizes, 2000 datagrams/s, one datagram per flow per round, rounds until
# the changes below are done plus 1.5 s: about 8 s) from the client while:
#   - hashsize is set 4 times (256: smaller than the flows need, so the index must stay
#     larger; 131072; 1024; 300): each time the workers' index follows (a power of two, at
#     most half full) and no flow is lost or duplicated (flows_created = flows_active = 400:
#     a flow the rebuilt index could not find would be created again);
#   - SIGHUP after the file changed active_timeout (3), then a broken file (refused, nothing
#     changes), then active_timeout 2 and inactive_timeout 1 (and protocol=9, which the
#     command line's protocol=10 overrides), then the same file again (nothing changed):
#     netflowd logs what changed, `get` shows it, and the new active timeout splits flows;
#   - at the end (SIGTERM) nfcapd's records summed per flow equal the generator's totals
#     exactly, and the packets a tshark capture on the router interface counted per flow;
#     stat's Accounting line adds up (observed = metered + dropped + own export, metered =
#     packets sent, nothing dropped or lost) and the summary agrees.
# usage: no_loss.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
ctl_init
ctl_setup
PORT=9998 DPORT=5002 FLOWS=400 RATE=2000
ctl_start_capture_r0
ctl_start_nfcapd nf "$PORT"
printf 'active_timeout=1800\ninactive_timeout=300\n' >"$NSH_WORK/netflowd.conf"
ctl_start_netflowd "destination=127.0.0.1:$PORT" protocol=10 workers=2
jnow() { nfctl stat --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

STOP="$NSH_WORK/stop-traffic"
ctl_bg client python3 "$CTL_DIR/ctltraffic.py" udp --src "$C4" --dst "$R4" --sport 20000 --dport "$DPORT" \
    --flows "$FLOWS" --count 200 --size 60 --size-step 37 --rate "$RATE" --stop-file "$STOP" \
    >"$NSH_WORK/flows.jsonl"
TRAFFIC_PID=$NSH_LAST_PID
t0=$(date +%s%N)
elapsed() { echo "$((($(date +%s%N) - t0) / 1000000)) ms"; }
all_started() { [[ $(jnow 'j["flows_created"]') -ge $FLOWS ]]; }
nsh_wait_until 5 "all $FLOWS flows to start" all_started || ctl_error "not all flows started"

# hashsize under traffic: the index follows, no flow lost or created twice.
for hs in 256 131072 1024 300; do
    sleep 0.6
    nfctl_ok set "hashsize=$hs" >/dev/null
    sleep 0.3 # the workers' next scans
    nfctl_ok stat --json >"$NSH_WORK/hs-$hs.json"
    python3 - "$NSH_WORK/hs-$hs.json" "$hs" "$FLOWS" <<'EOF' || ctl_error "hashsize=$hs under traffic"
import json, sys
j = json.load(open(sys.argv[1]))
hs, flows = int(sys.argv[2]), int(sys.argv[3])
want = 1 << (max(hs, 256) - 1).bit_length()
slots = [w["hash_slots"] for w in j["workers"]]
active = [w["flows_active"] for w in j["workers"]]
print(f"hashsize={hs}: hash_slots {slots}, flows per worker {active}, created {j['flows_created']}, "
      f"active {j['flows_active']}, metered {j['metered_packets']}")
ok = True
for s, a in zip(slots, active):
    if s & (s - 1) or s < want or a > 0.5 * s or (s > want and a <= 0.5 * s / 2):
        print(f"MISMATCH: {s} slots for {a} flows after hashsize={hs} (expected {want}, or the least power "
              f"of two at most half full)"); ok = False
if j["flows_created"] != flows or j["flows_active"] != flows:
    print(f"MISMATCH: flows_created {j['flows_created']}, flows_active {j['flows_active']}, expected {flows} "
          f"(no timeout can have ended a flow yet)"); ok = False
sys.exit(0 if ok else 1)
EOF
    ctl_log "hashsize=$hs at $(elapsed)"
done

# SIGHUP: the configuration file's run-time parameters are applied.
reloaded() { # N TEXT: the Nth reload line contains TEXT
    [[ $(grep -c 'SIGHUP: configuration' "$NSH_WORK/netflowd.err") -ge $1 ]] &&
        grep 'SIGHUP: configuration' "$NSH_WORK/netflowd.err" | sed -n "${1}p" | grep -q -- "$2"
}
hup() { # N TEXT FILE-CONTENT
    printf '%b' "$3" >"$NSH_WORK/netflowd.conf"
    kill -HUP "$CTL_NETFLOWD_PID"
    nsh_wait_until 5 "SIGHUP reload $1" reloaded "$1" "$2" ||
        ctl_error "SIGHUP $1: expected a log line with '$2', got: $(grep SIGHUP "$NSH_WORK/netflowd.err" | tail -1)"
    ctl_log "SIGHUP $1 at $(elapsed): $(grep 'SIGHUP: configuration' "$NSH_WORK/netflowd.err" | sed -n "${1}p")"
}
# The file does not mention hashsize: netflowd may also reset the hashsize set at run time to
# the file's (default) value, and then says so.
hup 1 "changed: active_timeout\(, hashsize\)\?$" 'active_timeout=3\ninactive_timeout=300\n'
[[ $(nfctl_ok get active_timeout inactive_timeout | tr '\n' ' ') == "3 300 " ]] ||
    ctl_error "after SIGHUP 1: get active_timeout inactive_timeout = $(nfctl get active_timeout inactive_timeout | tr '\n' ' ')"
hup 2 "not reloaded" 'active_timeout=3\ninactive_timeout=lots\n'
[[ $(nfctl_ok get active_timeout inactive_timeout | tr '\n' ' ') == "3 300 " ]] ||
    ctl_error "after a refused SIGHUP: get active_timeout inactive_timeout = $(nfctl get active_timeout inactive_timeout | tr '\n' ' ')"
sleep 0.5
# protocol is on the command line (10): the command line wins over the file.
hup 3 "changed: active_timeout, inactive_timeout$" 'active_timeout=2\ninactive_timeout=1\nprotocol=9\n'
[[ $(nfctl_ok get active_timeout inactive_timeout protocol | tr '\n' ' ') == "2 1 10 " ]] ||
    ctl_error "after SIGHUP 3: get active_timeout inactive_timeout protocol = $(nfctl get active_timeout inactive_timeout protocol | tr '\n' ' ')"
grep -q '^Timeouts: active 2s, inactive 1s\.' <(nfctl stat) || ctl_error "stat after SIGHUP 3: $(nfctl stat | grep Timeouts)"
hup 4 "changed: nothing$" 'active_timeout=2\ninactive_timeout=1\nprotocol=9\n'

# Every flow is older than 3 s: the new active timeouts split every one of them.
kill -0 "$TRAFFIC_PID" 2>/dev/null || ctl_fail "the traffic ended before the changes were done (200 rounds)"
sleep 1.5
touch "$STOP"
wait "$TRAFFIC_PID" || ctl_fail "the traffic generator failed"
nsh_forget "$TRAFFIC_PID"
TOTAL=$(python3 -c 'import json,sys; print(sum(json.loads(l)["packets"] for l in open(sys.argv[1])))' "$NSH_WORK/flows.jsonl")
ctl_log "traffic done at $(elapsed): $TOTAL datagrams in $FLOWS flows"
# The rates (sampled every 4 s since netflowd started; the traffic ran longer than that): they
# are measured, and the one-minute averages are this traffic's, whose rounds mix all datagram
# sizes evenly: bits per packet = 8 x the metered bytes per packet (within 10 %).
nfctl_ok stat --json >"$NSH_WORK/rates.json"
python3 - "$NSH_WORK/rates.json" <<'EOF' || ctl_error "stat --json rates after the traffic: $(cat "$NSH_WORK/rates.json")"
import json, sys
j = json.load(open(sys.argv[1]))
r = j["rates"]
print(f"rates: {r}", file=sys.stderr)
assert r["measured"] and r["in_pps_1m"] > 0 and r["in_bps_1m"] > 0, "no rate measured"
want = 8 * j["metered_bytes"] / j["metered_packets"]
got = r["in_bps_1m"] / r["in_pps_1m"]
assert abs(got - want) <= 0.1 * want, f"bits per packet {got:.1f}, metered {want:.1f}"
EOF
grep -E '^Rate: [0-9]+ bits/sec' <(nfctl stat) >&2 || ctl_error "stat: no Rate line"
# Settled: every flow expired (inactive 1 s) and its record sent.
settled() {
    [[ $(nfctl stat --snmp | awk '$1 == "outFlows" || $1 == "lostFlows" { n += $2 } END { print n + 0 }') == \
        "$(jnow 'j["export"]["records"]')" && $(jnow '(j["flows_active"], j["metered_packets"])') == "(0, $TOTAL)" ]]
}
SETTLED=--settled
if ! nsh_wait_until 10 "every flow to be exported" settled; then
    SETTLED=""
    ctl_error "10 s after the traffic: stat --json (flows_active, metered_packets) $(jnow '(j["flows_active"], j["metered_packets"])'), export.records $(jnow 'j["export"]["records"]') but only $(nfctl stat --snmp | awk '$1 == "outFlows" || $1 == "lostFlows" { n += $2 } END { print n + 0 }') (stat --snmp outFlows + lostFlows) sent or lost: records wait in an unsent datagram"
fi
nfctl_ok stat >"$NSH_WORK/stat.txt"
nfctl_ok stat --json >"$NSH_WORK/stat.json"
nfctl_ok stat --snmp >"$NSH_WORK/stat.snmp"
grep -E '^(Accounting|Export|source0):' "$NSH_WORK/stat.txt" >&2
ctl_check stat --text "$NSH_WORK/stat.txt" --json "$NSH_WORK/stat.json" --snmp "$NSH_WORK/stat.snmp" $SETTLED ||
    ctl_error "the stat views disagree or do not add up"
grep -qE "^Accounting: observed $TOTAL = metered $TOTAL \+ dropped 0 \(not IP 0, malformed 0, maxflows 0, alloc 0, queue 0\) \+ own export 0( \+ [a-z ]+ 0)*$" \
    "$NSH_WORK/stat.txt" || ctl_error "Accounting: expected $TOTAL observed and metered, nothing dropped"
grep -qE "^source0: .*kernel drops 0 \(overruns 0\), queue drops 0, own export 0\b" "$NSH_WORK/stat.txt" ||
    ctl_error "drops: $(grep '^source0' "$NSH_WORK/stat.txt")"
grep -qE "Traffic lost 0 pkts, 0 Kbytes, 0 flows\.$" "$NSH_WORK/stat.txt" || ctl_error "$(grep '^Export' "$NSH_WORK/stat.txt")"

ctl_stop_netflowd
ctl_stop_capture_r0 "$DPORT"
ctl_stop_nfcapd nf "$PORT"
summary() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$NSH_WORK/summary"; }
for k in packets metered; do
    [[ $(summary $k) == "$TOTAL" ]] || ctl_error "summary $k=$(summary $k), expected $TOTAL"
done
for k in dropped source_drops queue_drops lost_datagrams lost_flows send_errors; do
    [[ $(summary $k) == 0 ]] || ctl_error "summary $k=$(summary $k), expected 0"
done
ctl_nfdump nf >"$NSH_WORK/nf.nfdump"
records=$(wc -l <"$NSH_WORK/nf.nfdump")
[[ $(summary records) == "$records" ]] || ctl_error "summary records=$(summary records), nfcapd stored $records"
ctl_check totals --nfdump "$NSH_WORK/nf.nfdump" --expect "$NSH_WORK/flows.jsonl" --capture-counts "$NSH_WORK/r0.counts" ||
    ctl_error "the collector's per-flow totals differ from the generator's / the capture's"
# The timeouts the SIGHUPs set split the flows (1800/300 would have given one record each).
((records >= 2 * FLOWS)) || ctl_error "$records records for $FLOWS flows: the reloaded active timeout did not split them"
ctl_finish
