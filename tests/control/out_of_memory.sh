#!/usr/bin/env bash
# control.out_of_memory: a live netflowd --nflog (IPFIX, workers=2) whose address space is
# limited while it runs (prlimit, a few hundred KiB above what it maps: no worker can add a
# slab chunk or grow its index):
#   - a burst of 80,000 new one-packet flows: each worker takes in flows until its first slab
#     chunk (or its index at its emergency load) is full and refuses the rest; every packet
#     is observed and either metered or counted as alloc (stat --json alloc_dropped, the text
#     view's alloc column and Accounting line, stat --snmp; ctlcheck.py checks that the views
#     agree and add up), and netflowd keeps answering;
#   - the limit lifted: 1,000 more new flows are all taken in, nothing more is refused;
#   - at SIGTERM every flow taken in reaches nfcapd whole (one packet each), none that was
#     refused does, and the summary's alloc equals the refused packets.
# usage: out_of_memory.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
command -v prlimit >/dev/null || { echo "SKIP: missing tool: prlimit" >&2; exit 77; }
# The test build: a refused allocation returns nothing, as it does without the sanitizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1
ctl_init
ctl_setup
# The bursts go to ports 10000-59999: dropped after the NFLOG rule, like the other tests' UDP.
in_router iptables -A INPUT -i r0 -p udp --dport 10000:59999 -j DROP
PORT=9995
ctl_start_nfcapd a "$PORT"
ctl_start_netflowd "destination=127.0.0.1:$PORT" protocol=10 workers=2 active_timeout=1800 inactive_timeout=1800

# burst SPORT FLOWS: FLOWS one-datagram flows (20 bytes of payload): source port SPORT to
# destination ports 10000-49999, then SPORT + 1 to the same, and so on; about 40,000 a second
# (NFLOG keeps up; nothing lost in the kernel).
burst() {
    nsh_run in_client python3 -c '
import socket, sys, time
src, dst, sport, flows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
socks = []
for k in range((flows + 39999) // 40000):
    socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    socks[-1].bind((src, sport + k))
start = time.monotonic()
for i in range(flows):
    socks[i // 40000].sendto(b"x" * 20, (dst, 10000 + i % 40000))
    if i % 400 == 399:
        ahead = start + (i + 1) / 40000 - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
' "$C4" "$R4" "$1" "$2"
}
observed_is() { [[ $(jget 'j["observed"]') == "$1" ]]; }

# Both workers get flows (and their first slab chunk) before the limit.
burst 19999 200
nsh_wait_until 10 "200 packets observed" observed_is 200 || ctl_fail "the warm-up burst was not observed"

nf_pid=$(ctl_netflowd_own_pid)
vsz_kb=$(awk '/^VmSize/ { print $2 }' "/proc/$nf_pid/status")
# The soft limit only: lifting it again needs no privilege (CAP_SYS_RESOURCE may be missing).
prlimit --pid "$nf_pid" --as=$(((vsz_kb + 512) * 1024)): || ctl_fail "prlimit on netflowd failed"
ctl_log "address space limited to VmSize + 512 KiB"

burst 20000 80000
nsh_wait_until 30 "80,200 packets observed" observed_is 80200 ||
    ctl_error "observed $(jget 'j["observed"]') of 80,200 packets"
ctl_settle
nfctl_ok stat --json >"$NSH_WORK/limited.json"
nfctl_ok stat >"$NSH_WORK/limited.txt"
nfctl_ok stat --snmp >"$NSH_WORK/limited.snmp"
grep -E '^(Flows|Total|worker|Accounting)' "$NSH_WORK/limited.txt" >&2
ctl_check stat --text "$NSH_WORK/limited.txt" --json "$NSH_WORK/limited.json" --snmp "$NSH_WORK/limited.snmp" ||
    ctl_error "stat views disagree under the limit"
read -r observed metered refused active created source_drops < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["observed"], j["metered_packets"], j["alloc_dropped"], j["flows_active"], j["flows_created"], j["source_drops"])
' "$NSH_WORK/limited.json")
ctl_log "under the limit: observed $observed, metered $metered, refused (alloc) $refused, flows $active"
((refused > 0)) || ctl_fail "no new flow was refused: the limit did not bite"
((metered > 200)) || ctl_error "no flow of the burst was taken in ($metered packets metered)"
((observed == metered + refused)) || ctl_error "observed $observed != metered $metered + refused $refused"
((active == metered && created == metered)) ||
    ctl_error "one packet per flow: flows active $active, created $created, metered $metered"
((source_drops == 0)) || ctl_error "the kernel dropped $source_drops packets (the test assumes none)"
kill -0 "$nf_pid" 2>/dev/null || ctl_fail "netflowd ended under the limit"

prlimit --pid "$nf_pid" --as=unlimited: || ctl_fail "could not lift the limit"
ctl_log "limit lifted"
burst 20002 1000
nsh_wait_until 10 "81,200 packets observed" observed_is 81200 ||
    ctl_error "observed $(jget 'j["observed"]') of 81,200 packets"
ctl_settle
read -r metered2 refused2 < <(jget 'j["metered_packets"], j["alloc_dropped"]' | tr -d '(),')
((metered2 == metered + 1000 && refused2 == refused)) ||
    ctl_error "with the limit lifted: metered $metered2 (expected $((metered + 1000))), refused $refused2 (expected $refused)"

ctl_stop_netflowd
ctl_stop_nfcapd a "$PORT"
grep -q " alloc=$refused " "$NSH_WORK/summary" || ctl_error "summary: $(grep -o ' alloc=[0-9]*' "$NSH_WORK/summary"), expected $refused"
ctl_nfdump a >"$NSH_WORK/a.nfdump"
# Records are "proto src sport dst dport packets bytes": one per flow taken in, each of one
# 48-byte packet; the burst's (ports 20000-20001) as many as netflowd metered of it.
python3 - "$NSH_WORK/a.nfdump" "$metered" <<'PY' || ctl_error "nfcapd's records do not match what netflowd took in"
import collections, sys
records = [l.split() for l in open(sys.argv[1])]
metered = int(sys.argv[2])
by_sport = collections.Counter(r[2] for r in records)
print(f"nfcapd: {len(records)} records, per source port {dict(sorted(by_sport.items()))}")
bad = [r for r in records if (r[5], r[6]) != ("1", "48")]
if bad:
    print(f"records not of one 48-byte packet: {bad[:5]}")
keys = collections.Counter((r[2], r[4]) for r in records)
twice = [k for k, n in keys.items() if n > 1]
if twice:
    print(f"flows in more than one record: {twice[:5]}")
want = {"19999": 200, "20002": 1000}
burst = by_sport["20000"] + by_sport["20001"]
ok = not bad and not twice and all(by_sport[p] == n for p, n in want.items()) and burst == metered - 200
ok = ok and set(by_sport) <= {"19999", "20000", "20001", "20002"}
print(f"burst flows exported {burst}, taken in {metered - 200}")
sys.exit(0 if ok else 1)
PY
ctl_finish
