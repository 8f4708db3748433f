#!/usr/bin/env bash
# control.snmp: netflowd-snmp, the AgentX subagent, under a real snmpd (AgentX master on a
# Unix socket in the scratch directory, SNMP on the router's 127.0.0.1:1161), asked with
# net-snmp's snmpwalk/snmpget/snmpset while a live netflowd --nflog (workers=2) meters the
# client's traffic:
#   - the walk of IPT-NETFLOW-MIB (.1.3.6.1.4.1.37476.9000.10.1) returns every object the
#     agent serves (module, parameters, totals, a row per worker, a row per destination), in
#     increasing OID order, with the SMI types of the reference (Counter64 needs v2c);
#   - its values equal what netflowctl shows at the same time (`get`, `stat --snmp`): packets,
#     bytes and flows in total and per worker, parameters, the destination;
#   - snmpset of a run-time parameter changes it in netflowd (netflowctl get shows it); a
#     value netflowd refuses gives wrongValue and changes nothing, and so does a string that
#     would carry a second NAME=VALUE into the control request; a statistic is notWritable;
#   - once netflowd is gone, the statistics answer noSuchInstance (never stale numbers).
# usage: snmp.sh NETFLOWD NETFLOWCTL NETFLOWD_SNMP
set -euo pipefail
[[ $# == 3 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL NETFLOWD_SNMP" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2 NETFLOWD_SNMP=$3
source "$(dirname "$0")/lib.sh"
ctl_require snmpd snmpget snmpwalk snmpset
ctl_init
cp "$NETFLOWD_SNMP" "$NSH_WORK/netflowd-snmp" || ctl_fail "cannot copy $NETFLOWD_SNMP"
ctl_setup
PORT=9995 SNMP=udp:127.0.0.1:1161 MIB=.1.3.6.1.4.1.37476.9000.10.1
ctl_start_nfcapd a "$PORT"
ctl_start_netflowd "destination=127.0.0.1:$PORT" protocol=10 workers=2 active_timeout=1800 inactive_timeout=300

# snmpd: AgentX master only for us; no system configuration, no persistent state outside.
mkdir -p "$NSH_WORK/snmp"
cat >"$NSH_WORK/snmpd.conf" <<CONF
agentAddress $SNMP
master agentx
agentXSocket $NSH_WORK/agentx.sock
rocommunity public 127.0.0.1
rwcommunity private 127.0.0.1
CONF
ctl_bg router env SNMP_PERSISTENT_DIR="$NSH_WORK/snmp" snmpd -f -Lf "$NSH_WORK/snmpd.log" -C -c "$NSH_WORK/snmpd.conf" \
    -p "$NSH_WORK/snmpd.pid"
nsh_wait_until 20 "snmpd's AgentX socket" test -S "$NSH_WORK/agentx.sock" ||
    { cat "$NSH_WORK/snmpd.log" >&2; ctl_fail "snmpd did not start"; }
# --refresh 0: every request reads netflowd afresh, so that the walk and netflowctl agree.
ctl_bg router "$NSH_WORK/netflowd-snmp" --control "$CTL_SOCK" --agentx "$NSH_WORK/agentx.sock" --refresh 0 \
    2>"$NSH_WORK/agent.log"
snmp() { in_router env SNMP_PERSISTENT_DIR="$NSH_WORK/snmp" MIBS= "$@"; }
name_served() { snmp snmpget -v2c -c public -On -Oqv "$SNMP" "$MIB.1.1.1.0" 2>/dev/null | grep -q netflowd; }
nsh_wait_until 30 "netflowd-snmp to register with snmpd" name_served ||
    { cat "$NSH_WORK/agent.log" "$NSH_WORK/snmpd.log" >&2; ctl_fail "the agent does not answer"; }

# Traffic: 40 flows, 5 datagrams each; then quiet, so that the counters stand still.
ctl_udp --sport 5100 --dport 5000 --flows 40 --count 5 --size 300
ctl_wait_metered 200
ctl_settle 1

snmp snmpwalk -v2c -c public -On -OU -Oe -Ot "$SNMP" "$MIB" >"$NSH_WORK/walk" 2>"$NSH_WORK/walk.err" ||
    { cat "$NSH_WORK/walk.err" >&2; ctl_fail "snmpwalk failed"; }
nfctl_ok stat --snmp >"$NSH_WORK/stat.snmp"
nfctl_ok get >"$NSH_WORK/get"
nsh_run python3 "$CTL_DIR/snmpcheck.py" "$NSH_WORK/walk" "$NSH_WORK/stat.snmp" "$NSH_WORK/get" 2 1 ||
    ctl_error "the walk differs from netflowctl"

# SET: a run-time parameter, a refused value, a statistic.
snmp snmpset -v2c -c private "$SNMP" "$MIB.1.2.5.0" i 77 >/dev/null 2>"$NSH_WORK/set.err" ||
    ctl_error "snmpset inactive-timeout=77 failed: $(cat "$NSH_WORK/set.err")"
[[ $(nfctl_ok get inactive_timeout) == 77 ]] || ctl_error "inactive_timeout is not 77 after snmpset"
[[ $(snmp snmpget -v2c -c public -On -Oqv "$SNMP" "$MIB.1.2.5.0") == 77 ]] || ctl_error "snmpget does not show 77"
snmp snmpset -v2c -c private "$SNMP" "$MIB.1.2.9.0" s "random:20" >/dev/null 2>"$NSH_WORK/set.err" ||
    ctl_error "snmpset sampler failed: $(cat "$NSH_WORK/set.err")"
[[ $(nfctl_ok get sampler) == random:20 ]] || ctl_error "sampler is not random:20 after snmpset"
# A string SET reaches its own parameter only: a vertical tab, white space to the control
# request, must not smuggle in a second NAME=VALUE (flush=2 zeroes the statistics).
in_packets() { nfctl_ok stat --snmp | awk '$1 == "inPackets" {print $2}'; }
before=$(in_packets)
if snmp snmpset -v2c -c private "$SNMP" "$MIB.1.2.9.0" s $'random:30\vflush=2' >/dev/null 2>"$NSH_WORK/set.err"; then
    ctl_error "snmpset of sampler with a smuggled flush=2 was accepted"
fi
grep -q wrongValue "$NSH_WORK/set.err" || ctl_error "smuggled flush=2: not wrongValue: $(cat "$NSH_WORK/set.err")"
[[ $(nfctl_ok get sampler) == random:20 ]] || ctl_error "a refused snmpset changed the sampler"
after=$(in_packets)
[[ $before -gt 0 && $after == "$before" ]] || ctl_error "inPackets went from $before to $after: flush=2 got through"
if snmp snmpset -v2c -c private "$SNMP" "$MIB.1.2.1.0" i 7 >/dev/null 2>"$NSH_WORK/set.err"; then
    ctl_error "snmpset protocol=7 was accepted"
fi
grep -q wrongValue "$NSH_WORK/set.err" || ctl_error "protocol=7: not wrongValue: $(cat "$NSH_WORK/set.err")"
[[ $(nfctl_ok get protocol) == 10 ]] || ctl_error "a refused snmpset changed the protocol"
if snmp snmpset -v2c -c private "$SNMP" "$MIB.2.1.4.0" u 1 >/dev/null 2>"$NSH_WORK/set.err"; then
    ctl_error "snmpset of inPackets was accepted"
fi
grep -q notWritable "$NSH_WORK/set.err" || ctl_error "inPackets: not notWritable: $(cat "$NSH_WORK/set.err")"

# netflowd gone: the statistics are not served (no stale numbers); the module name still is.
ctl_stop_netflowd
snmp snmpget -v2c -c public -On "$SNMP" "$MIB.2.1.4.0" >"$NSH_WORK/gone" 2>&1 || true
grep -q "No Such Instance" "$NSH_WORK/gone" || ctl_error "inPackets without netflowd: $(cat "$NSH_WORK/gone")"
name_served || ctl_error "the module name is not served without netflowd"
ctl_finish
