#!/usr/bin/env bash
# control.features: sampler, aggregation and snmp_rules changed at run time with `netflowctl
# set` only, on a live netflowd --nflog (IPFIX, workers=2, active_timeout=1800,
# inactive_timeout=300). nfcapd stores the export; tshark on the router's lo writes it to a
# pcapng that ctlfeatures.py decodes afterwards (templates, options records, data records).
# Each phase sends to its own destination port, so the records of a phase are told apart by
# their key. Phases (each ended by flush=1):
#   1. sampler=deterministic:4, 200 flows x 3 to port 5001: exactly the flows stat counts as
#      selected are exported (about 1/4), each with exact totals; selected + discarded = 200;
#      the data templates carry selectorId (302) and the selector options record says
#      algorithm 1, interval 1, spacing 3.
#   2. sampler=hash:2, 200 flows x 3 to 5002: the metered flows are whole flows, every one
#      exported exact; sampled_out > 0; metered + sampled_out + dropped = observed; options
#      record algorithm 3, size 1, population 2.
#   3. sampler= (empty): 40 flows x 3 to 5003, all exported; data templates without 302.
#   4. aggregation=10.79.0.0/16=24,1024-65535=1024 with three client addresses (two inside
#      10.79.0.0/16, one outside) and source ports above and below 1024 to 5004: records
#      carry the cut addresses, port 1024, prefix lengths (IE 9/13) 24; totals per aggregated
#      key = the sum of the generator's flows mapping to it; stat shows aggr# usage > 0;
#      aggregation=bogus is refused (exit 1, names aggregation) and changes nothing.
#   5. snmp_rules=r:1000 (the router's interface is r0): 5 flows x 2 to 5005 exported with
#      ingressInterface 1000, while `flows --json` still shows r0's kernel ifIndex; the
#      interface options records (IE 10/82/83) say 1000 for r0 after the change.
#   6. protocol=9, sampler=deterministic:2, 20 flows x 2 to 5006: v9 data templates carry
#      samplerId (48), the sampler options record says 48=1, 49=1, 50=2; exactly the
#      selected flows are exported (exact totals), still with ingress interface 1000.
# usage: features.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
ctl_init
ctl_setup
PORT=9991 MARK=9990
# Extra client addresses for the aggregation phase: one more inside 10.79.1.0/24 and one
# outside the aggregated 10.79.0.0/16 (the router never answers, so no route back is needed).
C4B=10.79.1.3 C4X=10.80.0.2
ip -n "$NS_CLIENT" addr add "$C4B/24" dev c0
ip -n "$NS_CLIENT" addr add "$C4X/32" dev c0
R0_IFINDEX=$(in_router cat /sys/class/net/r0/ifindex)
SNMP_BASE=1000

# tshark on lo: the live fields lines (for the markers, as ctl_start_tshark_lo) and a pcapng
# of the export for the decoding at the end.
ctl_bg router tshark -n -l -i lo -f "udp dst port $PORT or udp dst port $MARK" -d "udp.port==$PORT,cflow" \
    -w "$NSH_WORK/lo.pcapng" -P -T fields -E separator=/t -e frame.time_epoch -e udp.dstport -e cflow.version \
    >"$NSH_WORK/lo.export" 2>"$NSH_WORK/lo.tshark.log"
CTL_TSHARK_PID[lo]=$NSH_LAST_PID
CTL_TSHARK_MARK[lo]=$MARK
nsh_wait_until 30 "tshark on lo" grep -q 'Capturing on' "$NSH_WORK/lo.tshark.log" ||
    { cat "$NSH_WORK/lo.tshark.log" >&2; ctl_fail "tshark did not start"; }
ctl_tshark_marker lo
ctl_start_nfcapd nf "$PORT"
ctl_start_netflowd "destination=127.0.0.1:$PORT" protocol=10 workers=2 active_timeout=1800 inactive_timeout=300

now() { date +%s.%N; }
# Phase boundaries (Unix time of each set), for the decoding of the capture.
PHASES="$NSH_WORK/phases"
: >"$PHASES"
# NAME.pre just before the `set`, NAME once it returned (the change is then in effect).
mark_pre() { echo "$1.pre $(now)" >>"$PHASES"; }
mark_phase() { echo "$1 $(now)" >>"$PHASES"; }
# set_ok NAME=VALUE: accepted, and `get NAME` prints VALUE.
set_ok() {
    local name=${1%%=*} value=${1#*=} got
    nfctl_ok set "$1" >/dev/null
    got=$(nfctl_ok get "$name")
    [[ $got == "$value" ]] || ctl_error "after set $1, get $name prints '$got'"
}
# flush_wait N: flush=1, then wait until `records` in stat --json reaches N.
flush_wait() {
    nfctl_ok set flush=1 >/dev/null
    nsh_wait_until 5 "$1 records to be exported" records_at_least "$1" ||
        ctl_error "after flush=1 only $(jget 'j["export"]["records"]') records were exported, expected $1"
}
records_at_least() { (($(jget 'j["export"]["records"]') >= $1)); }
observed_at_least() { (($(jget 'j["observed"]') >= $1)); }
# The generator's flows of a phase go to their own file.
phase_udp() { # FILE ARGS...
    local file=$1
    shift
    ctl_udp "$@"
    cat "$NSH_WORK/flows.jsonl" >>"$NSH_WORK/$file"
    : >"$NSH_WORK/flows.jsonl"
}

# --------------------------------------------------------------- 1. deterministic:4
ctl_log "phase 1: sampler=deterministic:4"
mark_pre det
set_ok sampler=deterministic:4
mark_phase det
phase_udp det.jsonl --sport 20000 --dport 5001 --flows 200 --count 3 --size 60 --size-step 7 --rate 3000
nsh_wait_until 10 "600 packets observed" observed_at_least 600 || ctl_error "the deterministic phase was not observed"
ctl_settle
nfctl_ok stat --json >"$NSH_WORK/det.before.json"
nfctl_ok set flush=1 >/dev/null
sampled_all() { (($(jget 'j["sampler_flows_observed"]') >= 200)); }
nsh_wait_until 5 "the sampler to see 200 flows" sampled_all || ctl_error "the sampler did not see the 200 flows"
ctl_settle
nfctl_ok stat >"$NSH_WORK/det.stat.txt"
nfctl_ok stat --json >"$NSH_WORK/det.stat.json"
grep -E '^Flow sampling' "$NSH_WORK/det.stat.txt" >&2 || true

# --------------------------------------------------------------------- 2. hash:2
ctl_log "phase 2: sampler=hash:2"
mark_pre hash
set_ok sampler=hash:2
mark_phase hash
nfctl_ok stat --json >"$NSH_WORK/hash.before.json"
phase_udp hash.jsonl --sport 21000 --dport 5002 --flows 200 --count 3 --size 60 --size-step 7 --rate 3000
OBS0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["observed"])' "$NSH_WORK/hash.before.json")
nsh_wait_until 10 "600 more packets observed" observed_at_least $((OBS0 + 600)) ||
    ctl_error "the hash phase was not observed"
ctl_settle
nfctl_ok stat --json >"$NSH_WORK/hash.cached.json"
nfctl_ok stat >"$NSH_WORK/hash.stat.txt"
grep -E '^Flow sampling' "$NSH_WORK/hash.stat.txt" >&2 || true
R0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["export"]["records"])' "$NSH_WORK/hash.cached.json")
A0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flows_active"])' "$NSH_WORK/hash.cached.json")
flush_wait $((R0 + A0))
nfctl_ok stat --json >"$NSH_WORK/hash.stat.json"

# ------------------------------------------------------------------- 3. no sampler
ctl_log "phase 3: sampler= (disabled)"
mark_pre none
set_ok sampler=
mark_phase none
nfctl_ok stat >"$NSH_WORK/none.stat.txt"
grep -qx 'Flow sampling is disabled.' "$NSH_WORK/none.stat.txt" ||
    ctl_error "after set sampler=, stat does not say 'Flow sampling is disabled.': $(grep -E '^Flow sampling' "$NSH_WORK/none.stat.txt")"
R0=$(jget 'j["export"]["records"]')
OBS0=$(jget 'j["observed"]')
phase_udp none.jsonl --sport 22000 --dport 5003 --flows 40 --count 3 --size 60 --size-step 7
nsh_wait_until 10 "120 more packets observed" observed_at_least $((OBS0 + 120)) || ctl_error "phase 3 was not observed"
ctl_settle
flush_wait $((R0 + 40))

# ------------------------------------------------------------------- 4. aggregation
ctl_log "phase 4: aggregation"
AGGR="10.79.0.0/16=24,1024-65535=1024"
mark_pre aggr
set_ok "aggregation=$AGGR"
mark_phase aggr
R0=$(jget 'j["export"]["records"]')
OBS0=$(jget 'j["observed"]')
phase_udp aggr.jsonl --sport 30000 --dport 5004 --flows 20 --count 3 --size 100 --size-step 11
nsh_run in_client python3 "$CTL_DIR/ctltraffic.py" udp --src "$C4B" --dst "$R4" --sport 30000 --dport 5004 --flows 10 \
    --count 2 --size 200 >>"$NSH_WORK/aggr.jsonl" || ctl_fail "traffic generator failed ($C4B)"
phase_udp aggr.jsonl --sport 900 --dport 5004 --flows 5 --count 4 --size 50 --size-step 3
nsh_run in_client python3 "$CTL_DIR/ctltraffic.py" udp --src "$C4X" --dst "$R4" --sport 31000 --dport 5004 --flows 5 \
    --count 2 --size 70 >>"$NSH_WORK/aggr.jsonl" || ctl_fail "traffic generator failed ($C4X)"
AGGR_PACKETS=$((20 * 3 + 10 * 2 + 5 * 4 + 5 * 2))
nsh_wait_until 10 "$AGGR_PACKETS more packets observed" observed_at_least $((OBS0 + AGGR_PACKETS)) ||
    ctl_error "phase 4 was not observed"
ctl_settle
nfctl_ok stat >"$NSH_WORK/aggr.stat.txt"
nfctl_ok flows --json >"$NSH_WORK/aggr.flows.json"
grep -E '^aggr#' "$NSH_WORK/aggr.stat.txt" >&2 || ctl_error "stat shows no aggr# line after set aggregation"
# Two rules, each used (address rule: every packet of 10.79/16, port rule: ports >= 1024).
python3 - "$NSH_WORK/aggr.stat.txt" <<'EOF' || ctl_error "stat: the aggregation rules are not listed with their usage"
import re, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("aggr#")]
usage = [int(re.search(r"\(usage (\d+)\)$", l.strip()).group(1)) for l in lines]
print(f"aggr# lines: {len(lines)}, usage {usage}")
sys.exit(0 if len(lines) == 2 and all(u > 0 for u in usage) else 1)
EOF
# A bad value is refused whole, names the parameter, and leaves the rules as they were.
rc=0
out=$(nfctl set aggregation=bogus 2>&1) || rc=$?
[[ $rc == 1 && $out == *aggregation* ]] || ctl_error "set aggregation=bogus: exit $rc (expected 1), output '$out'"
[[ $(nfctl_ok get aggregation) == "$AGGR" ]] || ctl_error "after the refused aggregation=bogus, get aggregation prints '$(nfctl get aggregation)'"
ACTIVE=$(jget 'j["flows_active"]')
flush_wait $((R0 + ACTIVE))
set_ok aggregation=

# ------------------------------------------------------------------- 5. snmp_rules
ctl_log "phase 5: snmp_rules=r:$SNMP_BASE (r0 is ifIndex $R0_IFINDEX)"
mark_pre snmp
set_ok "snmp_rules=r:$SNMP_BASE"
mark_phase snmp
R0=$(jget 'j["export"]["records"]')
OBS0=$(jget 'j["observed"]')
phase_udp snmp.jsonl --sport 40000 --dport 5005 --flows 5 --count 2 --size 90
nsh_wait_until 10 "10 more packets observed" observed_at_least $((OBS0 + 10)) || ctl_error "phase 5 was not observed"
ctl_settle
nfctl_ok flows --json >"$NSH_WORK/snmp.flows.json"
python3 - "$NSH_WORK/snmp.flows.json" "$R0_IFINDEX" <<'EOF' || ctl_error "flows --json does not show r0's kernel ifIndex"
import json, sys
flows = [f for f in json.load(open(sys.argv[1])) if f["dport"] == 5005]
ins = sorted({f["in"] for f in flows})
print(f"flows --json: {len(flows)} flows to 5005, in = {ins} (r0 is {sys.argv[2]})")
sys.exit(0 if len(flows) == 5 and ins == [int(sys.argv[2])] else 1)
EOF
flush_wait $((R0 + 5))

# ------------------------------------------------------- 6. NetFlow v9 samplerId
# protocol=9 (snmp_rules still r:1000), then sampler=deterministic:2: the v9 data templates
# carry samplerId (48) and the sampler options record says 48=1, 49 mode 1, 50 interval 2.
ctl_log "phase 6: protocol=9, sampler=deterministic:2"
mark_pre v9
set_ok protocol=9
set_ok sampler=deterministic:2
mark_phase v9
R0=$(jget 'j["export"]["records"]')
OBS0=$(jget 'j["observed"]')
phase_udp v9.jsonl --sport 41000 --dport 5006 --flows 20 --count 2 --size 40 --size-step 5
nsh_wait_until 10 "40 more packets observed" observed_at_least $((OBS0 + 40)) || ctl_error "phase 6 was not observed"
ctl_settle
nfctl_ok set flush=1 >/dev/null
v9_sampled() { (($(jget 'j["sampler_flows_observed"]') >= 20)); }
nsh_wait_until 5 "the sampler to see 20 flows" v9_sampled || ctl_error "the v9 sampler did not see the 20 flows"
ctl_settle
nfctl_ok stat --json >"$NSH_WORK/v9.stat.json"
mark_phase end

nfctl_ok stat --json >"$NSH_WORK/final.json"
ctl_stop_netflowd
ctl_stop_nfcapd nf "$PORT"
ctl_stop_tshark lo
nfdump -R "$NSH_WORK/nf.flows" -q -N -o 'fmt:%pr %sa %sp %da %dp %pkt %byt %smk %dmk %in' 2>/dev/null |
    awk 'NF == 10' >"$NSH_WORK/nf.records"
nsh_run python3 "$CTL_DIR/ctlfeatures.py" "$NSH_WORK" "$R0_IFINDEX" "$SNMP_BASE" ||
    ctl_error "the export does not match (see MISMATCH lines above)"
ctl_finish
