#!/usr/bin/env bash
# control.stat_formats: the three views of `netflowctl stat` and the flow dump. netflowd
# --nflog (NetFlow v9, workers=2, inactive_timeout=300) exports to nfcapd and to a port where
# nothing listens (so the error counters are not all zero). Traffic: a first batch of UDP
# flows, exported with flush=1; then UDP flows with different packet counts and sizes and a
# ping (3 echo requests), left in the cache. With no traffic running (stat --json taken
# before and after the three views must agree, uptime aside):
#   - stat --json parses; text `stat`, `stat --json` and `stat --snmp` show the same numbers
#     (every line of the text view and every SNMP name, see ctlcheck.py stat), each view adds
#     up (workers and sources sum to the totals; Accounting; records = delivered + lost);
#   - the numbers are the traffic's: observed = metered = packets sent, metered bytes,
#     flows_created, flows_active, cberr > 0 on the dead destination only;
#   - flows --json parses and lists exactly the live flows with their packet and byte counts;
#     the text `flows` lists the same flows.
# usage: stat_formats.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
ctl_init
ctl_setup
PORT=9994 DEAD=9993
ctl_start_nfcapd nf "$PORT"
ctl_start_netflowd "destination=127.0.0.1:$PORT,127.0.0.1:$DEAD" protocol=9 workers=2 active_timeout=1800 \
    inactive_timeout=300
jnow() { nfctl stat --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# First batch: exported by a flush (ICMP errors from the dead destination, records on the live one).
ctl_udp --sport 30000 --dport 5001 --flows 4 --count 3 --size 80
ctl_wait_metered 12 || ctl_error "the first batch was not metered"
nfctl_ok set flush=1 >/dev/null
flushed() {
    [[ $(nfctl stat --snmp | awk '$1 == "outFlows" || $1 == "lostFlows" { n += $2 } END { print n + 0 }') == 4 ]]
}
nsh_wait_until 5 "the first batch to be exported" flushed || ctl_error "the flushed flows were not sent"
mv "$NSH_WORK/flows.jsonl" "$NSH_WORK/flushed.jsonl"

# The live flows: different counts and sizes, and a ping.
ctl_udp --sport 31000 --dport 5001 --flows 3 --count 2 --size 100
ctl_udp --sport 31100 --dport 5001 --flows 2 --count 7 --size 300 --size-step 50
ctl_udp --sport 31200 --dport 5003 --flows 1 --count 11 --size 1000
in_client ping -q -c 3 -i 0.2 -s 56 "$R4" >/dev/null || ctl_error "ping failed"
LIVE_PACKETS=$((6 + 14 + 11 + 3))
ctl_wait_metered $((12 + LIVE_PACKETS)) || ctl_error "the live flows were not metered"

# A quiet moment: json before == json after (uptime aside), and the three views in between.
# (The rates are resampled every 4 s and decay after the traffic: not counters either.)
strip_uptime() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j.pop("uptime_s"); j.pop("rates"); print(json.dumps(j, sort_keys=True))' "$1"; }
quiet=0
for attempt in 1 2 3 4 5; do
    sleep 0.3
    nfctl_ok stat --json >"$NSH_WORK/before.json"
    nfctl_ok stat >"$NSH_WORK/stat.txt"
    nfctl_ok stat --json >"$NSH_WORK/stat.json"
    nfctl_ok stat --snmp >"$NSH_WORK/stat.snmp"
    nfctl_ok stat --json >"$NSH_WORK/after.json"
    if [[ $(strip_uptime "$NSH_WORK/before.json") == "$(strip_uptime "$NSH_WORK/after.json")" ]]; then
        quiet=1
        break
    fi
    ctl_log "statistics still changing (attempt $attempt)"
done
((quiet)) || ctl_fail "the statistics never stood still with no traffic running"
cat "$NSH_WORK/stat.txt" >&2
ctl_check stat --text "$NSH_WORK/stat.txt" --json "$NSH_WORK/stat.json" --snmp "$NSH_WORK/stat.snmp" --settled ||
    ctl_error "the stat views disagree or do not add up"

# The numbers are the traffic's.
python3 - "$NSH_WORK/stat.json" $((12 + LIVE_PACKETS)) "$PORT" "$DEAD" <<'EOF' || ctl_error "stat --json does not match the traffic"
import json, sys
j = json.load(open(sys.argv[1]))
total, port, dead = int(sys.argv[2]), sys.argv[3], sys.argv[4]
bytes_ = 4 * 3 * 108 + 3 * 2 * 128 + 7 * (328 + 378) + 11 * 1028 + 3 * 84
want = {"protocol": 9, "active_timeout": 1800, "inactive_timeout": 300, "observed": total, "metered_packets": total,
        "metered_bytes": bytes_, "flows_created": 4 + 3 + 2 + 1 + 1, "flows_active": 3 + 2 + 1 + 1,
        "non_ip": 0, "malformed": 0, "maxflows_dropped": 0, "alloc_dropped": 0, "queue_drops": 0, "source_drops": 0, "own_export": 0}
bad = {k: (j[k], v) for k, v in want.items() if j[k] != v}
x = j["export"]
if x["records"] != 4 or x["lost_flows"] != 0 or x["lost_datagrams"] != 0:
    bad["export"] = x
d = {e["destination"]: e for e in j["destinations"]}
if list(d) != [f"127.0.0.1:{port}", f"127.0.0.1:{dead}"]:
    bad["destinations"] = list(d)
else:
    live, gone = d[f"127.0.0.1:{port}"], d[f"127.0.0.1:{dead}"]
    if live["err_cberr"] != 0 or live["sent"] != x["delivered"]:
        bad["live destination"] = live
    # Every datagram goes out to the dead destination too (netflowd reads the ICMP errors from
    # the error queue, so they never make a send fail) and draws a port unreachable.
    if gone["sent"] != x["datagrams"] or not 1 <= gone["err_cberr"] <= x["datagrams"]:
        bad["dead destination"] = gone
print("stat --json vs the traffic:", "as expected" if not bad else f"(got, expected): {bad}")
sys.exit(1 if bad else 0)
EOF

# The flow dump.
nfctl_ok flows --json >"$NSH_WORK/flows.json"
ctl_check flows --flows-json "$NSH_WORK/flows.json" --expect "$NSH_WORK/flows.jsonl" --ping "$C4,$R4,3" ||
    ctl_error "flows --json does not list the live flows"
nfctl_ok flows >"$NSH_WORK/flows.txt"
python3 - "$NSH_WORK/flows.txt" "$NSH_WORK/flows.json" <<'EOF' || ctl_error "flows (text) and flows --json differ"
import json, sys
text = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    c = line.split()
    src, sport = c[3].split(","); dst, dport = c[4].split(",")
    text[(int(c[2]), src, int(sport), dst, int(dport))] = (int(c[6]), int(c[7]))
js = {(f["proto"], f["src"], f["sport"], f["dst"], f["dport"]): (f["packets"], f["bytes"])
      for f in json.load(open(sys.argv[2]))}
print(f"flows: {len(text)} in the text dump, {len(js)} in the JSON dump")
if text != js:
    print("MISMATCH:", {k: (text.get(k), js.get(k)) for k in set(text) | set(js) if text.get(k) != js.get(k)})
    sys.exit(1)
EOF

ctl_stop_netflowd
ctl_stop_nfcapd nf "$PORT"
ctl_finish
