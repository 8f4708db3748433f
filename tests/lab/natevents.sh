#!/usr/bin/env bash
# lab.natevents: NAT events from conntrack (natevents=1). The router masquerades what leaves
# towards the server and forwards UDP to its own port 5353 to the server's port 7 (DNAT, then
# masqueraded too). The client sends UDP from several ports, UDP to the DNAT port, and pings;
# then the router's conntrack table is listed (the ground truth) and flushed, which destroys
# every connection. netflowd exports IPFIX, NetFlow v9 and v5 in turn; natcheck.py compares
# the NAT records tshark decodes from the exports with the table: one create and one destroy
# event per translated connection, pre- and post-NAT tuples exact, nothing else, no malformed
# packets. netflowctl's stat shows the same counts. For v5, natevents is turned on at run time
# (netflowctl set natevents=1) and off again at the end (the stat line says disabled, counts kept).
# usage: natevents.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
NETFLOWCTL=$(dirname "$NETFLOWD")/netflowctl
source "$(dirname "$0")/lab.sh"
lab_require iptables conntrack
[[ -x $NETFLOWCTL ]] || lab_fail "no netflowctl next to $NETFLOWD"
lab_init
lab_setup
in_router iptables -t nat -A POSTROUTING -o r1 -j MASQUERADE
in_router iptables -t nat -A PREROUTING -i r0 -p udp -d "$R4C" --dport 5353 -j DNAT --to-destination "$S4:7"
# Conntrack sends events only when asked to (1) or, with the default 2, while someone listens.
in_router sysctl -qw net.netfilter.nf_conntrack_events=1 2>/dev/null || true

PORT=9996 GROUP=18
run_protocol() { # PROTOCOL [at-run-time]: with at-run-time, natevents is turned on by netflowctl set
    local proto=$1 name="nat$1" at_start=natevents=1
    lab_bg router tshark -n -l -i lo -f "udp port $PORT" -w "$NSH_WORK/$name.pcapng" \
        >/dev/null 2>"$NSH_WORK/$name.tshark.log"
    local tshark_pid=$NSH_LAST_PID
    nsh_wait_until 30 "tshark on lo" grep -q 'Capturing on' "$NSH_WORK/$name.tshark.log" ||
        { cat "$NSH_WORK/$name.tshark.log" >&2; return 1; }
    lab_start_collector "$name" "$PORT"
    # No NFLOG rule: this netflowd meters nothing, so its exports hold NAT events and options only.
    [[ ${2:-} == at-run-time ]] && at_start=natevents=0
    lab_start_netflowd "$name" --nflog "$GROUP" "destination=127.0.0.1:$PORT" "protocol=$proto" "$at_start"
    if [[ $at_start == natevents=0 ]]; then
        in_router "$NETFLOWCTL" --control "$NSH_WORK/$name.sock" set natevents=1 >/dev/null
        nsh_wait_until 5 "NAT events on" grep -q 'NAT events on' "$NSH_WORK/$name.err"
    fi
    in_router conntrack -F 2>/dev/null || true
    sleep 0.3
    # Traffic: five UDP source ports to the server, one to the DNAT port, two pings.
    in_client python3 - "$S4" "$R4C" <<'PY'
import socket, sys
server, router = sys.argv[1], sys.argv[2]
for port in range(40001, 40006):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    s.sendto(b"nat", (server, 9000))
    s.close()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40010))
s.sendto(b"dnat", (router, 5353))
s.close()
PY
    in_client ping -q -c 2 -i 0.2 -W 1 "$S4" >/dev/null || true
    sleep 0.3
    in_router conntrack -L -f ipv4 >"$NSH_WORK/$name.conntrack" 2>/dev/null
    in_router conntrack -F 2>/dev/null
    # The stat line counts what the table had: one start and one stop per translated
    # connection (netflowd reads the events at every scan, 100 ms).
    local translated stat_ok=0
    translated=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[2]); import natcheck
print(sum(1 for k in natcheck.expected_events(natcheck.conntrack_entries(sys.argv[1]))) // 2)' \
        "$NSH_WORK/$name.conntrack" "$LAB_DIR")
    for _ in $(seq 50); do
        in_router "$NETFLOWCTL" --control "$NSH_WORK/$name.sock" stat >"$NSH_WORK/$name.stat"
        if grep -q "^Natevents enabled, count start $translated, stop $translated\.$" "$NSH_WORK/$name.stat"; then
            stat_ok=1
            break
        fi
        sleep 0.1
    done
    if [[ $at_start == natevents=0 ]]; then
        # Off again at run time: the counts stay, the line says disabled.
        in_router "$NETFLOWCTL" --control "$NSH_WORK/$name.sock" set natevents=0 >/dev/null
        nsh_wait_until 5 "NAT events off" grep -q 'NAT events off' "$NSH_WORK/$name.err" ||
            lab_fail "natevents=0 at run time: no 'NAT events off'"
        in_router "$NETFLOWCTL" --control "$NSH_WORK/$name.sock" stat | grep -q \
            "^Natevents disabled, count start $translated, stop $translated\.$" ||
            lab_fail "stat after natevents=0 does not say disabled with the counts kept"
    fi
    lab_stop_netflowd "$name"
    lab_stop_collector "$name" "$PORT"
    sleep 0.3
    kill -TERM "$tshark_pid" 2>/dev/null || true
    wait "$tshark_pid" || true
    nsh_forget "$tshark_pid"
    python3 "$LAB_DIR/natcheck.py" "$NSH_WORK/$name.conntrack" "$NSH_WORK/$name.pcapng" "$PORT" "$proto" ||
        { cat "$NSH_WORK/$name.conntrack" >&2; return 1; }
    [[ $stat_ok == 1 ]] || { cat "$NSH_WORK/$name.stat" >&2; lab_fail "stat: want start/stop $translated"; }
    grep -q "lost: overruns 0\." "$NSH_WORK/$name.stat" || lab_fail "stat: NAT events lost"
    grep -q "NAT events" "$NSH_WORK/$name.err" || lab_fail "no NAT events in netflowd's summary"
    lab_log "protocol $proto: $translated translated connections, start and stop events exact"
}
run_protocol 10
run_protocol 9
run_protocol 5 at-run-time
lab_log "natevents: PASS"
