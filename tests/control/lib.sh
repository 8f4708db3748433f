# Harness for the control-plane tests (sourced, not run).
#
# Two network namespaces joined by one veth pair, created directly inside the
# namespaces (nothing is ever added to the caller's namespace):
#
#   client (c0) 10.79.1.2/24  <---->  (r0) 10.79.1.1/24 router
#
# In the router: iptables INPUT rules hand every packet arriving on r0 to NFLOG
# group CTL_GROUP (then drop the test's UDP, so no port-unreachable noise);
# netflowd reads that group and exports to collectors on the router's own
# 127.0.0.1 (nfcapd, tshark on lo); netflowctl talks to it over a Unix socket
# in the scratch directory. Traffic only ever flows between these two
# addresses and loopback inside the router.
#
# Teardown (trap on EXIT, INT, TERM, and a watchdog before ctest's timeout):
# tracked processes (children first), then any process left inside our
# namespaces (only we start processes there), then the namespaces, which takes
# the veths, addresses and iptables rules with them. Namespaces of a run killed
# with SIGKILL (no trap) are named nfctl-PID-*: ctl_init removes those whose PID
# is gone.
#
# Environment: NETFLOWD_CTL_KEEP=1 keeps the scratch directory (always), =fail
# only when the test failed.

CTL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NSH_NAME="control test" NSH_FAMILY=nfctl NSH_ROLES="client|router"
NSH_DEADLINE=${CTL_DEADLINE:-270} # seconds; below ctest's TIMEOUT 300 so the trap still runs
NSH_KEEP=${NETFLOWD_CTL_KEEP:-0}
# shellcheck source=../netns_lib.sh
source "$CTL_DIR/../netns_lib.sh"
NS_CLIENT="$NSH_PREFIX-client"
NS_ROUTER="$NSH_PREFIX-router"
CTL_GROUP=$((100 + NSH_ID % 900)) # NFLOG groups are per network namespace; unique anyway

C4=10.79.1.2 R4=10.79.1.1
CTL_R0_MARK=6999

ctl_log() { nsh_log "$@"; }
# ctl_fail: a failure after which the test cannot go on. ctl_error: a failed check; the test
# goes on (so one run shows every problem) and ctl_finish exits 1.
CTL_ERRORS=0
ctl_fail() {
    echo "FAIL: $*" >&2
    exit 1
}
ctl_error() {
    echo "FAIL: $*" >&2
    CTL_ERRORS=$((CTL_ERRORS + 1))
}
ctl_finish() {
    if ((CTL_ERRORS > 0)); then
        ctl_fail "$CTL_ERRORS check(s) failed (see FAIL lines above)"
    fi
    ctl_log "PASS"
    exit 0
}

in_client() { ip netns exec "$NS_CLIENT" "$@"; }
in_router() { ip netns exec "$NS_ROUTER" "$@"; }

ctl_require() {
    nsh_require_root_and_tools ip iptables ping ss tshark nfcapd nfdump python3 ethtool "$@"
    [[ -x $NETFLOWD && -x $NETFLOWCTL ]] || ctl_fail "netflowd/netflowctl not executable: $NETFLOWD $NETFLOWCTL"
}

ctl_init() {
    nsh_init ctl
    CTL_SOCK="$NSH_WORK/control.sock"
    # Private copies: a rebuild during the run must not mix two versions in one test.
    cp "$NETFLOWD" "$NSH_WORK/netflowd" && cp "$NETFLOWCTL" "$NSH_WORK/netflowctl" ||
        ctl_fail "cannot copy $NETFLOWD and $NETFLOWCTL"
    NETFLOWD="$NSH_WORK/netflowd" NETFLOWCTL="$NSH_WORK/netflowctl"
}

# ctl_bg ROLE COMMAND...: a tracked background command in namespace ROLE (client, router);
# its pid in NSH_LAST_PID.
ctl_bg() {
    local ns
    case $1 in
        client) ns=$NS_CLIENT ;;
        router) ns=$NS_ROUTER ;;
        *) ctl_fail "ctl_bg: unknown namespace $1" ;;
    esac
    shift
    nsh_bg_in "$ns" "$@"
}

ctl_setup() {
    local ns mac_c0 mac_r0
    for ns in "$NS_CLIENT" "$NS_ROUTER"; do
        nsh_add_namespace "$ns"
        nsh_capture_lo_datagrams "$ns"
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
    done
    ip -n "$NS_ROUTER" link add r0 type veth peer name c0 netns "$NS_CLIENT"
    ip -n "$NS_CLIENT" addr add "$C4/24" dev c0
    ip -n "$NS_ROUTER" addr add "$R4/24" dev r0
    ip -n "$NS_CLIENT" link set c0 up
    ip -n "$NS_ROUTER" link set r0 up
    # Permanent neighbours: no ARP in the middle of a burst.
    mac_c0=$(ip -n "$NS_CLIENT" link show dev c0 | awk '$1 == "link/ether" { print $2 }')
    mac_r0=$(ip -n "$NS_ROUTER" link show dev r0 | awk '$1 == "link/ether" { print $2 }')
    ip -n "$NS_CLIENT" neigh replace "$R4" lladdr "$mac_r0" dev c0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$C4" lladdr "$mac_c0" dev r0 nud permanent
    in_client ping -q -c 1 -W 2 "$R4" >/dev/null || ctl_fail "test network: no connectivity"
    # Everything arriving on r0 goes to netflowd; the test's UDP (ports 5000-5999) is then
    # dropped silently (no listener needed, no ICMP errors). Loopback (the export) never.
    # Marker datagrams for captures on r0 (port CTL_R0_MARK) are never metered.
    in_router iptables -A INPUT -i r0 -p udp --dport "$CTL_R0_MARK" -j DROP
    in_router iptables -A INPUT -i r0 -j NFLOG --nflog-group "$CTL_GROUP"
    in_router iptables -A INPUT -i r0 -p udp --dport 5000:5999 -j DROP
    ctl_log "network up: client $C4 -- router $R4, NFLOG group $CTL_GROUP"
}

# ----------------------------------------------------------------- netflowd
# ctl_start_netflowd ARGS...: netflowd --nflog CTL_GROUP --control CTL_SOCK --config
# WORK/netflowd.conf ARGS... in the router (the file is created empty unless the test wrote
# it: /etc/netflowd.conf must not leak in), stderr in WORK/netflowd.err. Waits until
# netflowctl gets an answer.
CTL_CONFIG=""
ctl_start_netflowd() {
    CTL_CONFIG="$NSH_WORK/netflowd.conf"
    [[ -e $CTL_CONFIG ]] || : >"$CTL_CONFIG"
    ctl_log "netflowd --nflog $CTL_GROUP --control $CTL_SOCK --config $CTL_CONFIG $*"
    ctl_bg router "$NETFLOWD" --nflog "$CTL_GROUP" --control "$CTL_SOCK" --config "$CTL_CONFIG" "$@" \
        2>"$NSH_WORK/netflowd.err"
    CTL_NETFLOWD_PID=$NSH_LAST_PID
    if ! nsh_wait_until 20 "netflowd to start" grep -q 'started:' "$NSH_WORK/netflowd.err" ||
        ! nsh_wait_until 10 "the control socket" nfctl_quiet get protocol; then
        cat "$NSH_WORK/netflowd.err" >&2
        ctl_fail "netflowd did not start"
    fi
}

# nfctl ARGS...: netflowctl against this test's netflowd (run in the router namespace).
nfctl() { in_router "$NETFLOWCTL" --control "$CTL_SOCK" "$@"; }
nfctl_quiet() { nfctl "$@" >/dev/null 2>&1; }

# nfctl_ok ARGS...: must exit 0; stdout passed through.
nfctl_ok() {
    local out rc=0
    out=$(nfctl "$@" 2>"$NSH_WORK/nfctl.stderr") || rc=$?
    [[ $rc == 0 ]] || ctl_fail "netflowctl $* exited $rc: $(cat "$NSH_WORK/nfctl.stderr")"
    printf '%s\n' "$out"
}

# jget EXPR: a Python expression over `stat --json` (as j), printed.
jget() { nfctl stat --json | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

# The pid of the netflowd process itself (CTL_NETFLOWD_PID may be the `ip netns exec` wrapper's
# parent), for /proc and prlimit.
ctl_netflowd_own_pid() {
    local pid=$CTL_NETFLOWD_PID
    [[ $(readlink "/proc/$pid/exe") == "$(readlink -f "$NETFLOWD")" ]] || pid=$(pgrep -P "$CTL_NETFLOWD_PID" | head -1)
    echo "$pid"
}

# SIGTERM; netflowd must exit 0 within 30 s with a summary line (copied to WORK/summary).
ctl_stop_netflowd() {
    local pid=$CTL_NETFLOWD_PID rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        nsh_kill_tree KILL "$pid"
        wait "$pid" 2>/dev/null || true
        nsh_forget "$pid"
        cat "$NSH_WORK/netflowd.err" >&2
        ctl_fail "netflowd did not exit within 30 s of SIGTERM"
    fi
    wait "$pid" || rc=$?
    nsh_forget "$pid"
    [[ $rc == 0 ]] || { cat "$NSH_WORK/netflowd.err" >&2; ctl_fail "netflowd exited with status $rc"; }
    grep '^netflowd: summary ' "$NSH_WORK/netflowd.err" >"$NSH_WORK/summary" ||
        { cat "$NSH_WORK/netflowd.err" >&2; ctl_fail "netflowd printed no summary line"; }
    ctl_log "$(cat "$NSH_WORK/summary")"
}

# --------------------------------------------------------------- collectors

# nfcapd in the router on 127.0.0.1:PORT writing into WORK/NAME.flows.
declare -A CTL_NFCAPD_PID
ctl_start_nfcapd() { # NAME PORT
    local name=$1 port=$2
    mkdir -p "$NSH_WORK/$name.flows"
    ctl_bg router nfcapd -w "$NSH_WORK/$name.flows" -b 127.0.0.1 -p "$port" -B 8388608 -t 3600 -I "$name" \
        >"$NSH_WORK/$name.nfcapd.log" 2>&1
    CTL_NFCAPD_PID[$name]=$NSH_LAST_PID
    nsh_wait_until 10 "nfcapd on 127.0.0.1:$port" nsh_bound "$port" ||
        { cat "$NSH_WORK/$name.nfcapd.log" >&2; ctl_fail "nfcapd did not start"; }
}

# Stops nfcapd (it then writes its file) after it read everything queued.
ctl_stop_nfcapd() { # NAME PORT
    local name=$1 port=$2 pid=${CTL_NFCAPD_PID[$1]}
    nsh_wait_until 30 "nfcapd $name to drain its socket" nsh_drained "$port" || true
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || ctl_log "nfcapd $name exited with $?"
    nsh_forget "$pid"
}

# ctl_nfdump NAME: every record nfcapd NAME stored, one line each:
# "proto src sport dst dport packets bytes" (ICMP: dport = type.code as nfdump prints it).
ctl_nfdump() {
    nfdump -R "$NSH_WORK/$1.flows" -q -N -o 'fmt:%pr %sa %sp %da %dp %pkt %byt' 2>/dev/null |
        awk 'NF == 7 { print $1, $2, $3, $4, $5, $6, $7 }'
}

# tshark on the router's lo, decoding the export datagrams sent to the given ports as
# NetFlow/IPFIX, one line per datagram (flushed at once) in WORK/NAME.export:
#   time <TAB> udp.dstport <TAB> cflow.version <TAB> template ids <TAB> srcports <TAB> dstports
#   <TAB> packets <TAB> octets <TAB> protocols <TAB> v9 source id <TAB> IPFIX domain id
# (multiple records: comma-separated, in record order). MARKPORT: a port nobody listens on,
# for the marker datagrams (ctl_tshark_marker).
declare -A CTL_TSHARK_PID CTL_TSHARK_MARK
ctl_start_tshark_lo() { # NAME MARKPORT PORT...
    local name=$1 filter="" decode=() port
    shift
    for port in "$@"; do
        filter+="${filter:+ or }udp dst port $port"
        decode+=(-d "udp.port==$port,cflow")
    done
    ctl_bg router tshark -n -l -i lo -f "$filter" "${decode[@]}" -T fields -E separator=/t \
        -e frame.time_epoch -e udp.dstport -e cflow.version -e cflow.template_id -e cflow.srcport \
        -e cflow.dstport -e cflow.packets -e cflow.octets -e cflow.protocol -e cflow.source_id -e cflow.od_id \
        >"$NSH_WORK/$name.export" 2>"$NSH_WORK/$name.tshark.log"
    CTL_TSHARK_PID[$name]=$NSH_LAST_PID
    CTL_TSHARK_MARK[$name]=$1
    nsh_wait_until 30 "tshark on lo" grep -q 'Capturing on' "$NSH_WORK/$name.tshark.log" ||
        { cat "$NSH_WORK/$name.tshark.log" >&2; ctl_fail "tshark did not start"; }
    # "Capturing on" comes before the capture is live: wait until a marker datagram shows.
    ctl_tshark_marker "$name"
}

# Sends a small non-NetFlow datagram to tshark NAME's marker port on the router's lo until
# tshark shows it: everything sent to lo before it has been printed.
ctl_tshark_marker() { # NAME
    local name=$1 port=${CTL_TSHARK_MARK[$1]} before
    before=$(awk -F'\t' -v p="$port" '$2 == p && $3 == ""' "$NSH_WORK/$name.export" | wc -l)
    for _ in $(seq 100); do
        in_router python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"m", ("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null || true
        sleep 0.1
        (($(awk -F'\t' -v p="$port" '$2 == p && $3 == ""' "$NSH_WORK/$name.export" | wc -l) > before)) && return 0
    done
    ctl_fail "tshark $name never showed the marker datagram to port $port"
}

ctl_stop_tshark() { # NAME
    local name=$1 pid=${CTL_TSHARK_PID[$1]}
    ctl_tshark_marker "$name"
    nsh_kill_tree TERM "$pid"
    wait "$pid" 2>/dev/null || true
    nsh_forget "$pid"
}

# tshark on the router's r0 (the ground truth of what arrived from the client), writing
# WORK/r0.pcapng. Marker datagrams from the client to port CTL_R0_MARK (dropped before NFLOG,
# never metered) show when the capture is live and when it has everything.
ctl_r0_marker() { # LEN
    local text
    text=$(printf '%*s' "$1" '' | tr ' ' m)
    for _ in $(seq 100); do
        in_client python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), (sys.argv[1], int(sys.argv[3])))' \
            "$R4" "$text" "$CTL_R0_MARK" 2>/dev/null || true
        sleep 0.1
        grep -qE "[^0-9]$CTL_R0_MARK Len=$1\b" "$NSH_WORK/r0.out" && return 0
    done
    ctl_fail "tshark on r0 never showed the marker datagram"
}
ctl_start_capture_r0() {
    ctl_bg router tshark -n -l -P -B 64 -i r0 -f udp -w "$NSH_WORK/r0.pcapng" >"$NSH_WORK/r0.out" 2>"$NSH_WORK/r0.log"
    CTL_R0_PID=$NSH_LAST_PID
    nsh_wait_until 30 "tshark on r0" grep -q 'Capturing on' "$NSH_WORK/r0.log" ||
        { cat "$NSH_WORK/r0.log" >&2; ctl_fail "tshark on r0 did not start"; }
    ctl_r0_marker 11
}
# Stops the capture; per destination port DPORT, "SPORT COUNT" lines in WORK/r0.counts.
ctl_stop_capture_r0() { # DPORT
    ctl_r0_marker 12
    nsh_kill_tree TERM "$CTL_R0_PID"
    wait "$CTL_R0_PID" 2>/dev/null || true
    nsh_forget "$CTL_R0_PID"
    if grep -E '[1-9][0-9]* packets? dropped' "$NSH_WORK/r0.log" >&2; then
        ctl_log "WARNING: the capture on r0 dropped packets"
    fi
    tshark -n -r "$NSH_WORK/r0.pcapng" -Y "udp.dstport == $1" -T fields -e udp.srcport 2>/dev/null |
        sort -n | uniq -c | awk '{ print $2, $1 }' >"$NSH_WORK/r0.counts"
}

# ------------------------------------------------------------------ traffic
# ctl_udp ARGS...: ctltraffic.py udp in the client (src C4, dst R4); flow lines appended to
# WORK/flows.jsonl.
ctl_udp() {
    nsh_run in_client python3 "$CTL_DIR/ctltraffic.py" udp --src "$C4" --dst "$R4" "$@" >>"$NSH_WORK/flows.jsonl" ||
        ctl_fail "traffic generator failed: udp $*"
}

# NFLOG delivers in batches and netflowd's workers scan every 100 ms: give the last packets
# time to be metered.
ctl_settle() { sleep "${1:-0.5}"; }

# Waits until netflowd metered at least N packets in total (stat --json metered_packets).
ctl_wait_metered() { # N
    nsh_wait_until 10 "netflowd to meter $1 packets" ctl_metered_at_least "$1"
}
ctl_metered_at_least() {
    local m
    m=$(nfctl stat --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["metered_packets"])' 2>/dev/null) || return 1
    ((m >= $1))
}

# python3 ctlcheck.py SUBCOMMAND ...
ctl_check() { nsh_run python3 "$CTL_DIR/ctlcheck.py" "$@"; }
