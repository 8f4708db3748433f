#!/usr/bin/env bash
# control.get_set: netflowctl get/set against a live netflowd --nflog (IPFIX, workers=2) in a
# router namespace, traffic from a client namespace, tshark decoding the export on the
# router's lo, nfcapd on two ports.
#   - `get` lists every implemented parameter with its start value; `get NAME` agrees;
#   - `set` of every run-time parameter is reflected by `get` (timeouts and maxflows in
#     `stat`, hashsize in the workers' index size, sndbuf in the socket); `set NAME=VALUE`
#     with the value `get` printed is accepted (round trip) and restores the start listing;
#   - bad values, unknown and not implemented names, start-only parameters are refused with
#     exit status 1 and the parameter's name, and change nothing (a request with one bad
#     assignment applies none of it); usage errors exit 2, and so does a newline in an
#     argument (it would cut the one-line request);
#   - flush=1 makes the cached flows reach the collector at once (well before any timeout),
#     every time, not only the first;
#   - protocol=9 (with engine_id=7): the collector, which got IPFIX so far, gets NetFlow v9
#     with source id 7 and only v9, with template ids continuing after the IPFIX ones;
#   - destination=127.0.0.1:OTHER: new datagrams go to the other port, none to the old one;
#   - inactive_timeout lowered at run time expires cached flows without a flush;
#   - flush=2 zeroes the statistics, and afterwards they count only new traffic;
#   - maxflows=3 keeps at most 3 flows in total (2 workers) and counts the dropped packets;
#   - hashsize=2^30 under an address-space limit: the workers keep their index, netflowd goes
#     on and exports every flow at the stop.
# usage: get_set.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
ctl_init
ctl_setup
MARK=9 PORT_A=9995 PORT_B=9996
ctl_start_tshark_lo lo "$MARK" "$PORT_A" "$PORT_B"
ctl_start_nfcapd a "$PORT_A"
ctl_start_nfcapd b "$PORT_B"
ctl_start_netflowd "destination=127.0.0.1:$PORT_A" protocol=10 workers=2 active_timeout=1800 inactive_timeout=300
EXPORT="$NSH_WORK/lo.export"
now() { date +%s.%N; }
check() { ctl_check "$@" || ctl_error "ctlcheck $1 failed"; }

# ------------------------------------------------------------------ get
"$NETFLOWD" --parameters-markdown >"$NSH_WORK/params.md"
# Every parameter of the table that is implemented, with its default.
mapfile -t IMPLEMENTED < <(awk -F'|' '/^\| `/ && !/\(refused: / {
    gsub(/[ `]/, "", $2); gsub(/^ *`|` *$/, "", $3); print $2 "=" $3 }' "$NSH_WORK/params.md")
# ipt_NETFLOW parameters this version refuses (not implemented yet).
mapfile -t UNIMPLEMENTED < <(awk -F'|' '/^\| `/ && /\(refused: / { gsub(/[ `]/, "", $2); print $2 }' \
    "$NSH_WORK/params.md")
((${#IMPLEMENTED[@]} >= 20)) || ctl_fail "could not read the parameter table (${#IMPLEMENTED[@]} entries)"
declare -A START=([destination]="127.0.0.1:$PORT_A" [protocol]=10 [workers]=2 [active_timeout]=1800
    [inactive_timeout]=300)
nfctl_ok get >"$NSH_WORK/get.initial"
declare -A GOT
while IFS= read -r line; do GOT[${line%%=*}]=${line#*=}; done <"$NSH_WORK/get.initial"
for entry in "${IMPLEMENTED[@]}"; do
    name=${entry%%=*} default=${entry#*=}
    want=${START[$name]:-$default}
    if [[ ! -v GOT[$name] ]]; then
        ctl_error "get: $name is not listed"
    elif [[ ${GOT[$name]} != "$want" ]]; then
        ctl_error "get: $name=${GOT[$name]}, expected $want"
    fi
    one=$(nfctl get "$name" 2>&1) || ctl_error "get $name exited $?: $one"
    [[ $one == "${GOT[$name]:-}" ]] || ctl_error "get $name printed '$one', the listing ${GOT[$name]:-nothing}"
done
(($(wc -l <"$NSH_WORK/get.initial") == ${#IMPLEMENTED[@]})) ||
    ctl_error "get lists $(wc -l <"$NSH_WORK/get.initial") parameters, the table has ${#IMPLEMENTED[@]} implemented"
ctl_log "get: ${#IMPLEMENTED[@]} parameters listed with their start values"

# get of names that have no value: refused, named.
for name in nosuch "${UNIMPLEMENTED[@]}"; do
    rc=0
    nfctl get "$name" >/dev/null 2>"$NSH_WORK/err" || rc=$?
    [[ $rc == 1 ]] || ctl_error "get $name: exit status $rc, expected 1"
    grep -q "$name" "$NSH_WORK/err" || ctl_error "get $name: the error does not name it: $(cat "$NSH_WORK/err")"
done

# ------------------------------------------------------------- refusals
# expect_refused ASSIGNMENT NAME [TEXT]: exit 1, stderr names NAME (and contains TEXT), and
# the listing is unchanged.
expect_refused() {
    local assignment=$1 name=$2 text=${3:-} rc=0
    nfctl_ok get >"$NSH_WORK/get.before"
    nfctl set "$assignment" >/dev/null 2>"$NSH_WORK/err" || rc=$?
    if [[ $rc != 1 ]]; then
        ctl_error "set $assignment: exit status $rc, expected 1 (refused)"
    elif ! grep -q -- "$name" "$NSH_WORK/err"; then
        ctl_error "set $assignment: the error does not name $name: $(cat "$NSH_WORK/err")"
    elif [[ -n $text ]] && ! grep -q -- "$text" "$NSH_WORK/err"; then
        ctl_error "set $assignment: the error does not say '$text': $(cat "$NSH_WORK/err")"
    fi
    nfctl_ok get >"$NSH_WORK/get.now"
    cmp -s "$NSH_WORK/get.before" "$NSH_WORK/get.now" ||
        ctl_error "set $assignment was refused (exit $rc) but changed: $(diff "$NSH_WORK/get.before" "$NSH_WORK/get.now" | grep '^[<>]' | tr '\n' ' ')"
}
for a in protocol=7 protocol=v9 active_timeout=0 active_timeout=abc active_timeout=10s inactive_timeout=-1 \
    hashsize=100 payload_size=100 mpls_depth=4 macaddress=2 vlan=yes direction=-1 refresh_rate=0 \
    engine_id=-1 sndbuf=-5 export_rate=fast export_gso=2 debug=11 flush=3 destination=300.1.1.1:2055 \
    destination=127.0.0.1:99999 destination=; do
    expect_refused "$a" "${a%%=*}"
done
for a in workers=4 exportcpu=0 promisc=1 nflog_split=1; do
    expect_refused "$a" "${a%%=*}" "can only be set at start"
done
for name in "${UNIMPLEMENTED[@]}"; do
    # The reason the table gives (not implemented yet / not applicable in user space).
    reason=$(awk -F'|' -v n="\`$name\`" '$2 ~ n { sub(/.*\(refused: /, "", $4); split($4, w, " "); print w[1] " " w[2] }' \
        "$NSH_WORK/params.md")
    expect_refused "$name=1" "$name" "${reason:-not implement}"
done
expect_refused nosuch=1 nosuch unknown
# One bad assignment refuses the whole request: nothing of it is applied.
expect_refused "active_timeout=999 protocol=7" protocol
expect_refused "inactive_timeout=5 workers=3" workers "can only be set at start"
expect_refused active-timeout=0 active_timeout
# Usage errors: exit status 2, nothing printed on stdout.
for args in frobnicate set "stat --jsn" "flows --jsn"; do
    rc=0
    # shellcheck disable=SC2086
    out=$(nfctl $args 2>/dev/null) || rc=$?
    [[ $rc == 2 && -z $out ]] ||
        ctl_error "netflowctl $args: exit status $rc and ${#out} bytes on stdout, expected 2 (usage) and nothing"
done
# A newline in an argument (a list pasted over two lines) would end the one-line request there
# and netflowd would apply the first line only: refused before anything is sent.
nfctl_ok get aggregation >"$NSH_WORK/aggr.before"
rc=0
nfctl set $'aggregation=10.0.0.0/8=16\n192.168.0.0/16=24' >/dev/null 2>"$NSH_WORK/err" || rc=$?
[[ $rc == 2 ]] || ctl_error "set with a newline in the value: exit status $rc, expected 2"
grep -q "control character (0x0a)" "$NSH_WORK/err" || ctl_error "set with a newline: $(cat "$NSH_WORK/err")"
nfctl_ok get aggregation | cmp -s - "$NSH_WORK/aggr.before" || ctl_error "set with a newline changed the aggregation"
rc=0
"$NETFLOWCTL" --control "$NSH_WORK/no-such.sock" get >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || ctl_error "netflowctl with no netflowd behind the socket: exit status $rc, expected 1"
ctl_log "refusals checked"

# ------------------------------------------------------------- run-time sets
declare -A VALUE=([active_timeout]=1234 [inactive_timeout]=77 [maxflows]=5000 [hashsize]=4096 [engine_id]=3
    [debug]=1 [refresh_rate]=5 [timeout_rate]=10 [sndbuf]=1048576 [export_rate]=1000 [export_gso]=0 [payload_size]=1000
    [macaddress]=1 [vlan]=1 [direction]=1 [mpls_depth]=2 [flush]=0 [protocol]=9
    [destination]="127.0.0.1:$PORT_B")
START_ONLY=" workers exportcpu promisc nflog_split "
for entry in "${IMPLEMENTED[@]}"; do
    name=${entry%%=*}
    [[ $START_ONLY == *" $name "* ]] && continue
    # A parameter added since this test was written: only the round trip below covers it.
    [[ -v VALUE[$name] ]] || { ctl_log "WARNING: no test value for the run-time parameter $name"; continue; }
    if ! out=$(nfctl set "$name=${VALUE[$name]}" 2>&1); then
        ctl_error "set $name=${VALUE[$name]} refused: $out"
        continue
    fi
    got=$(nfctl_ok get "$name")
    [[ $got == "${VALUE[$name]}" ]] || ctl_error "set $name=${VALUE[$name]}: get says $got"
done
# Upstream: maxflows zero or negative means unlimited (reads 0); '-' and '_' are the same.
nfctl_ok set maxflows=-5 >/dev/null
[[ $(nfctl_ok get maxflows) == 0 ]] || ctl_error "set maxflows=-5: get says $(nfctl get maxflows), expected 0"
nfctl_ok set maxflows=5000 inactive-timeout=77 >/dev/null
[[ $(nfctl_ok get maxflows inactive_timeout | tr '\n' ' ') == "5000 77 " ]] ||
    ctl_error "set of two parameters at once: get says $(nfctl get maxflows inactive_timeout | tr '\n' ' ')"
# The statistics show the new values.
nfctl_ok stat >"$NSH_WORK/stat.set"
grep -qx 'Timeouts: active 1234s, inactive 77s. Maxflows 5000' "$NSH_WORK/stat.set" ||
    ctl_error "stat does not show the new timeouts/maxflows: $(grep Timeouts "$NSH_WORK/stat.set")"
grep -q '^netflowd .*, protocol 9 (netflow v9), refresh-rate 5, timeout-rate 10,' "$NSH_WORK/stat.set" ||
    ctl_error "stat does not show protocol 9, refresh-rate 5, timeout-rate 10: $(head -1 "$NSH_WORK/stat.set")"
json_of() { nfctl stat --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
[[ $(json_of '(j["active_timeout"], j["inactive_timeout"], j["maxflows"], j["protocol"])') == "(1234, 77, 5000, 9)" ]] ||
    ctl_error "stat --json: $(json_of '(j["active_timeout"], j["inactive_timeout"], j["maxflows"], j["protocol"])')"
# Workers follow at their next scan: hashsize -> index slots; sndbuf -> the new socket.
slots_are() { [[ $(json_of '",".join(str(w["hash_slots"]) for w in j["workers"])') == "$1" ]]; }
nsh_wait_until 3 "hash_slots 4096,4096" slots_are 4096,4096 ||
    ctl_error "hashsize=4096: workers' hash_slots $(json_of '[w["hash_slots"] for w in j["workers"]]')"
grep -q "^Hash: size 8192," <(nfctl stat) || ctl_error "hashsize=4096: stat says $(nfctl stat | grep '^Hash')"
dest_ok() { [[ $(json_of '(j["destinations"][0]["destination"], j["destinations"][0]["sndbuf"] >= 1048576)') == "('127.0.0.1:$PORT_B', True)" ]]; }
nsh_wait_until 3 "the new socket" dest_ok ||
    ctl_error "destination/sndbuf: stat --json destinations $(json_of 'j["destinations"]')"

# Round trip: every value `get` printed at the start is accepted by `set` and restores it.
while IFS= read -r line; do
    name=${line%%=*}
    [[ $START_ONLY == *" $name "* ]] && continue
    out=$(nfctl set "$line" 2>&1) || ctl_error "set $line (the value get printed at the start) refused: $out"
done <"$NSH_WORK/get.initial"
nfctl_ok get >"$NSH_WORK/get.restored"
cmp -s "$NSH_WORK/get.initial" "$NSH_WORK/get.restored" ||
    ctl_error "get after restoring differs from the start: $(diff "$NSH_WORK/get.initial" "$NSH_WORK/get.restored" | grep '^[<>]' | tr '\n' ' ')"
# hashsize=0: upstream's automatic table (MemTotal/1024 bytes, at most 5 MiB, of 8-byte buckets),
# shared by the two workers, each index a power of two.
auto_slots=$(awk '/^MemTotal:/ { b = int(int(($2 < 5242880 ? $2 : 5242880) / 8) / 2); if (b < 256) b = 256;
    s = 1; while (s < b) s *= 2; print s }' /proc/meminfo)
nsh_wait_until 3 "hash_slots $auto_slots,$auto_slots" slots_are "$auto_slots,$auto_slots" ||
    ctl_error "hashsize=0 again: workers' hash_slots $(json_of '[w["hash_slots"] for w in j["workers"]]')"
ctl_log "run-time sets checked"

# ------------------------------------------------------------- export changes
METERED=0
# traffic SPORT FLOWS COUNT: UDP flows to the router, then wait until netflowd metered them.
traffic() {
    ctl_udp --sport "$1" --dport 5001 --flows "$2" --count "$3" --size 100
    METERED=$((METERED + $2 * $3))
    ctl_wait_metered "$METERED" || ctl_error "netflowd did not meter $METERED packets"
}
# arrived PORT SPORT FLOWS COUNT AFTER [ctlcheck options]: waits (5 s at most) until tshark
# showed the records, then checks they were sent soon enough after AFTER.
arrived() {
    local port=$1 sports="$2-$(($2 + $3 - 1))" count=$4 after=$5 rc
    shift 5
    # tshark prints a datagram up to about a second after it was sent.
    local deadline
    deadline=$(python3 -c "print(int(($after + 5) * 1000))")
    while (($(date +%s%3N) < deadline)); do
        rc=0
        python3 "$CTL_DIR/ctlcheck.py" arrived --export "$EXPORT" --port "$port" --sports "$sports" \
            --packets "$count" --after "$after" --wait "$@" >/dev/null || rc=$?
        [[ $rc == 2 ]] || break
        sleep 0.2
    done
    check arrived --export "$EXPORT" --port "$port" --sports "$sports" --packets "$count" --after "$after" "$@"
}

# IPFIX: flush=1 sends the cached flows at once, the first time and every time after.
t_export=$(now)
for round in 1 2; do
    sport=$((41000 + round * 10))
    traffic "$sport" 3 5
    t=$(now)
    nfctl_ok set flush=1 >/dev/null
    ctl_log "flush=1 (IPFIX, round $round, source ports $sport..$((sport + 2)))"
    arrived "$PORT_A" "$sport" 3 5 "$t" --version 10
done
# With one flow left in the cache: nothing is exported before the flush (inactive 300 s).
traffic 41100 1 4
sleep 1.5
rc=0
python3 "$CTL_DIR/ctlcheck.py" arrived --export "$EXPORT" --port "$PORT_A" --sports 41100 --packets 4 --after 0 \
    --wait >/dev/null || rc=$?
[[ $rc == 2 ]] || ctl_error "flow 41100 was exported before any timeout or flush"

# NetFlow v9 with source id 7 from now on.
t_v9=$(now)
nfctl_ok set protocol=9 engine_id=7 >/dev/null
ctl_log "protocol=9 engine_id=7"
# A new protocol or destination also flushes the cache, which each worker does at its next
# scan (within 100 ms): traffic sent before then may be flushed with it. Wait for the scans.
sleep 0.3
traffic 42010 3 5
t=$(now)
nfctl_ok set flush=1 >/dev/null
ctl_log "flush=1 (v9)"
arrived "$PORT_A" 42010 3 5 "$t" --version 9 --source-id 7
arrived "$PORT_A" 41100 1 4 "$t_v9" --within 30 # cached across the change, sent by a later flush
check versions --export "$EXPORT" --port "$PORT_A" --after "$(python3 -c "print($t_v9 + 0.5)")" --version 9
grep -qP "^[0-9.]+\t$PORT_A\t10\t" "$EXPORT" || ctl_error "the collector never received IPFIX before the change"
# Template ids continue: the v9 ones all come after every IPFIX one. (Only since the IPFIX
# flushes: while the sets above were restored one by one, intermediate configurations may
# have exported too.)
python3 - "$EXPORT" "$PORT_A" "$t_export" <<'EOF' || ctl_error "template ids do not continue across the protocol change"
import sys
ids = {10: set(), 9: set()}
for line in open(sys.argv[1]):
    c = line.rstrip("\n").split("\t")
    if len(c) > 3 and c[1] == sys.argv[2] and c[2] in ("9", "10") and c[3] and float(c[0]) >= float(sys.argv[3]):
        ids[int(c[2])].update(int(x) for x in c[3].split(","))
print(f"template ids: IPFIX {sorted(ids[10])}, v9 {sorted(ids[9])}")
sys.exit(0 if ids[10] and ids[9] and min(ids[9]) > max(ids[10]) else 1)
EOF

# Another collector port: new datagrams go there, none to the old one.
t_dest=$(now)
nfctl_ok set "destination=127.0.0.1:$PORT_B" >/dev/null
ctl_log "destination=127.0.0.1:$PORT_B"
sleep 0.3 # the workers' next scans, as above
traffic 43000 3 5
t=$(now)
nfctl_ok set flush=1 >/dev/null
arrived "$PORT_B" 43000 3 5 "$t" --version 9 --source-id 7
check silent --export "$EXPORT" --port "$PORT_A" --after "$(python3 -c "print($t_dest + 0.5)")"

# inactive_timeout lowered at run time: the cached flows expire at the next scans, no flush.
traffic 44000 2 6
t=$(now)
nfctl_ok set inactive_timeout=1 >/dev/null
[[ $(nfctl_ok get inactive_timeout) == 1 ]] || ctl_error "get inactive_timeout after setting 1"
grep -q 'inactive 1s\.' <(nfctl stat) || ctl_error "stat does not show inactive 1s"
arrived "$PORT_B" 44000 2 6 "$t" --within 3.5
nfctl_ok set inactive_timeout=300 >/dev/null

# flush=2: the statistics read zero (the flushed flows are exported and counted after it).
traffic 45000 3 5
t=$(now)
nfctl_ok set flush=2 >/dev/null
nfctl_ok stat --json >"$NSH_WORK/after-flush2.json"
nfctl_ok stat >"$NSH_WORK/after-flush2.txt"
[[ $(nfctl_ok get flush) == 0 ]] || ctl_error "get flush after flush=2 says $(nfctl get flush), expected 0"
python3 - "$NSH_WORK/after-flush2.json" <<'EOF' || ctl_error "flush=2 did not zero the statistics"
import json, sys
j = json.load(open(sys.argv[1]))
bad = {k: j[k] for k in ("observed", "metered_packets", "metered_bytes", "flows_created", "non_ip", "malformed",
                         "maxflows_dropped", "alloc_dropped", "queue_drops", "source_drops", "own_export") if j[k] != 0}
for i, w in enumerate(j["workers"]):
    bad.update({f"workers[{i}].{k}": w[k] for k in ("flows_created", "packets", "bytes") if w[k] != 0})
for i, s in enumerate(j["sources"]):
    bad.update({f"sources[{i}].{k}": s[k] for k in ("frames", "non_ip", "malformed", "queue_drops") if s[k] != 0})
x = j["export"]
# Only what was exported after the reset may count: at most the 3 flushed flows.
if x["records"] > 3 or x["lost_flows"] != 0 or x["lost_datagrams"] != 0:
    bad["export"] = x
print("after flush=2:", "all zero" if not bad else bad)
sys.exit(1 if bad else 0)
EOF
grep -q '^Accounting: observed 0 = metered 0 + dropped 0 ' "$NSH_WORK/after-flush2.txt" ||
    ctl_error "stat after flush=2: $(grep Accounting "$NSH_WORK/after-flush2.txt")"
grep -q '^Total    0 0 0 \[' "$NSH_WORK/after-flush2.txt" ||
    ctl_error "stat after flush=2: $(grep '^Total' "$NSH_WORK/after-flush2.txt")"
arrived "$PORT_B" 45000 3 5 "$t"
# From now on only new traffic counts.
METERED=0
traffic 46000 2 4
sleep 0.3
[[ $(json_of '(j["observed"], j["metered_packets"], j["metered_bytes"], j["flows_created"], j["flows_active"])') == "(8, 8, 1024, 2, 2)" ]] ||
    ctl_error "after flush=2 and 2 flows x 4 packets: stat --json (observed, metered, bytes, created, active) = $(json_of '(j["observed"], j["metered_packets"], j["metered_bytes"], j["flows_created"], j["flows_active"])')"

# maxflows limits the flows kept at once, in total (not per worker): with maxflows=3, of 10
# flows x 2 datagrams (sent round by round) 3 flows are kept (6 packets metered), the other
# 14 packets are dropped and counted.
nfctl_ok set flush=1 >/dev/null
empty() { [[ $(json_of 'j["flows_active"]') == 0 ]]; }
nsh_wait_until 3 "the cache to be empty" empty || ctl_error "flush=1 left $(json_of 'j["flows_active"]') flows"
nfctl_ok set maxflows=3 >/dev/null
sleep 0.3 # the workers' next scans
ctl_udp --sport 47000 --dport 5001 --flows 10 --count 2 --size 100
counted() { [[ $(json_of 'j["observed"]') == 28 ]]; }
nsh_wait_until 3 "28 packets observed" counted || true
sleep 0.3
nfctl_ok stat --json >"$NSH_WORK/maxflows.json"
nfctl_ok stat >"$NSH_WORK/maxflows.txt"
got=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print((j["flows_active"], j["maxflows_dropped"], j["metered_packets"], j["observed"]))' "$NSH_WORK/maxflows.json")
[[ $got == "(3, 14, 14, 28)" ]] ||
    ctl_error "maxflows=3 (workers=2), 10 new flows x 2 packets: (flows_active, maxflows_dropped, metered_packets, observed) = $got, expected (3, 14, 14, 28)"
grep -qE '^Accounting: observed 28 = metered [0-9]+ \+ dropped [0-9]+ \(not IP 0, malformed 0, maxflows [0-9]+, alloc 0, queue 0\)' \
    "$NSH_WORK/maxflows.txt" || ctl_error "stat after maxflows: $(grep Accounting "$NSH_WORK/maxflows.txt")"
ADMITTED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flows_active"])' "$NSH_WORK/maxflows.json")

# A hashsize the system does not grant (an address-space limit put on the running netflowd:
# 2^30 slots take 4 GiB a worker): the workers log it, keep their index and go on; netflowd
# still answers, and at the stop below exports every cached flow (the maxflows flows reach
# port B). It used to end on std::bad_alloc.
nf_pid=$(ctl_netflowd_own_pid)
vsz_kb=$(awk '/^VmSize/ { print $2 }' "/proc/$nf_pid/status")
prlimit --pid "$nf_pid" --as=$(((vsz_kb + 512 * 1024) * 1024)) || ctl_fail "prlimit on netflowd failed"
nfctl_ok set hashsize=1073741824 >/dev/null
nsh_wait_until 10 "the workers to refuse the index" grep -q "no memory for an index of that size" "$NSH_WORK/netflowd.err" ||
    ctl_error "no worker logged the refused hashsize: $(tail -3 "$NSH_WORK/netflowd.err")"
kill -0 "$nf_pid" 2>/dev/null || ctl_fail "netflowd ended on a hashsize it could not allocate"
[[ $(nfctl_ok stat --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["flows_active"])') == "$ADMITTED" ]] ||
    ctl_error "the cached flows changed after the refused hashsize"

ctl_stop_netflowd
ctl_stop_tshark lo
ctl_stop_nfcapd a "$PORT_A"
ctl_stop_nfcapd b "$PORT_B"
# The collectors (nfdump): port A got the IPFIX and v9 flows, port B the rest.
ctl_nfdump a >"$NSH_WORK/a.nfdump"
ctl_nfdump b >"$NSH_WORK/b.nfdump"
sports_of() { awk '{ print $3 }' "$1" | sort -n | tr '\n' ' '; }
[[ $(sports_of "$NSH_WORK/a.nfdump") == "41010 41011 41012 41020 41021 41022 41100 42010 42011 42012 " ]] ||
    ctl_error "nfcapd on $PORT_A has records of source ports $(sports_of "$NSH_WORK/a.nfdump")"
[[ $(sports_of "$NSH_WORK/b.nfdump" | sed 's/47[0-9]* //g') == "43000 43001 43002 44000 44001 45000 45001 45002 46000 46001 " ]] ||
    ctl_error "nfcapd on $PORT_B has records of source ports $(sports_of "$NSH_WORK/b.nfdump")"
(($(awk '$3 >= 47000' "$NSH_WORK/b.nfdump" | wc -l) == ADMITTED)) ||
    ctl_error "nfcapd on $PORT_B: $(awk '$3 >= 47000' "$NSH_WORK/b.nfdump" | wc -l) records of the maxflows flows, $ADMITTED were kept"
ctl_finish
