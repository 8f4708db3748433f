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
CTL_ID=$$
CTL_PREFIX="nfctl-$CTL_ID"
NS_CLIENT="$CTL_PREFIX-client"
NS_ROUTER="$CTL_PREFIX-router"
CTL_NAMESPACES=()
CTL_PIDS=()
CTL_WORK=""
CTL_DEADLINE=${CTL_DEADLINE:-270} # seconds; below ctest's TIMEOUT 300 so the trap still runs
CTL_GROUP=$((100 + CTL_ID % 900))  # NFLOG groups are per network namespace; unique anyway

C4=10.79.1.2 R4=10.79.1.1
CTL_R0_MARK=6999

ctl_log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
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

ctl_kill_tree() { # SIG PID: children first (tshark runs dumpcap)
    local sig=$1 pid=$2 child
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        ctl_kill_tree "$sig" "$child"
    done
    kill "-$sig" "$pid" 2>/dev/null || true
}

ctl_forget() {
    local keep=() pid
    for pid in "${CTL_PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    CTL_PIDS=("${keep[@]}")
}

ctl_remove_namespace() {
    local ns=$1 pid
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 30); do
        [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
        sleep 0.1
    done
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
}

ctl_cleanup() {
    local rc=$? pid ns
    trap - EXIT INT TERM
    for pid in "${CTL_PIDS[@]}"; do ctl_kill_tree TERM "$pid"; done
    for pid in "${CTL_PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        ctl_kill_tree KILL "$pid"
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${CTL_NAMESPACES[@]}"; do ctl_remove_namespace "$ns"; done
    if [[ -n $CTL_WORK ]]; then
        if [[ ${NETFLOWD_CTL_KEEP:-0} == 1 || ($rc != 0 && ${NETFLOWD_CTL_KEEP:-0} == fail) ]]; then
            ctl_log "kept $CTL_WORK"
        else
            rm -rf "$CTL_WORK"
        fi
    fi
    exit "$rc"
}

ctl_sweep_stale() {
    local ns owner
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^nfctl-[0-9]+-(client|router)$' || true); do
        owner=${ns#nfctl-}
        owner=${owner%%-*}
        if ! kill -0 "$owner" 2>/dev/null; then
            ctl_log "removing stale namespace $ns (its test process $owner is gone)"
            ctl_remove_namespace "$ns"
        fi
    done
}

# Exit status 77 = skipped for ctest (SKIP_RETURN_CODE).
ctl_require() {
    local tool
    if [[ $(id -u) != 0 ]]; then
        echo "SKIP: these tests need root (network namespaces)" >&2
        exit 77
    fi
    for tool in ip iptables ping ss tshark nfcapd nfdump python3 "$@"; do
        command -v "$tool" >/dev/null || { echo "SKIP: missing tool: $tool" >&2; exit 77; }
    done
    [[ -x $NETFLOWD && -x $NETFLOWCTL ]] || ctl_fail "netflowd/netflowctl not executable: $NETFLOWD $NETFLOWCTL"
}

ctl_init() {
    CTL_WORK=$(mktemp -d "${TMPDIR:-/tmp}/netflowd-ctl.XXXXXX")
    CTL_SOCK="$CTL_WORK/control.sock"
    # Private copies: a rebuild during the run must not mix two versions in one test.
    cp "$NETFLOWD" "$CTL_WORK/netflowd" && cp "$NETFLOWCTL" "$CTL_WORK/netflowctl" ||
        ctl_fail "cannot copy $NETFLOWD and $NETFLOWCTL"
    NETFLOWD="$CTL_WORK/netflowd" NETFLOWCTL="$CTL_WORK/netflowctl"
    trap ctl_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Watchdog: a wedged step must not run into ctest's timeout (SIGKILL, no cleanup).
    (
        sleep "$CTL_DEADLINE"
        echo "control test: deadline of $CTL_DEADLINE s reached, aborting" >&2
        kill -TERM "$CTL_ID"
    ) &
    CTL_PIDS+=("$!")
    ctl_sweep_stale
    ctl_log "scratch directory $CTL_WORK, namespaces $CTL_PREFIX-*"
}

# ctl_bg NS COMMAND...: a tracked background command in namespace NS (client, router); its
# pid (the command's own: ip netns exec execs it) in CTL_LAST_PID.
ctl_bg() {
    local ns
    case $1 in
        client) ns=$NS_CLIENT ;;
        router) ns=$NS_ROUTER ;;
        *) ctl_fail "ctl_bg: unknown namespace $1" ;;
    esac
    shift
    ip netns exec "$ns" "$@" &
    CTL_LAST_PID=$!
    CTL_PIDS+=("$CTL_LAST_PID")
}

# Runs a command as a tracked background job and waits for it, so that a signal interrupts
# the wait (bash runs traps only between commands). Returns the command's status.
ctl_run() {
    local pid rc=0
    "$@" &
    pid=$!
    CTL_PIDS+=("$pid")
    wait "$pid" || rc=$?
    ctl_forget "$pid"
    return "$rc"
}

ctl_wait_until() { # TIMEOUT_SECONDS DESCRIPTION COMMAND...
    local deadline=$(($(date +%s%N) + $1 * 1000000000)) what=$2
    shift 2
    while :; do
        "$@" && return 0
        (($(date +%s%N) < deadline)) || break
        sleep 0.1
    done
    echo "timed out waiting for $what" >&2
    return 1
}

ctl_setup() {
    local ns mac_c0 mac_r0
    for ns in "$NS_CLIENT" "$NS_ROUTER"; do
        ip netns add "$ns"
        CTL_NAMESPACES+=("$ns")
        ip -n "$ns" link set lo up
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
    CTL_CONFIG="$CTL_WORK/netflowd.conf"
    [[ -e $CTL_CONFIG ]] || : >"$CTL_CONFIG"
    ctl_log "netflowd --nflog $CTL_GROUP --control $CTL_SOCK --config $CTL_CONFIG $*"
    ctl_bg router "$NETFLOWD" --nflog "$CTL_GROUP" --control "$CTL_SOCK" --config "$CTL_CONFIG" "$@" \
        2>"$CTL_WORK/netflowd.err"
    CTL_NETFLOWD_PID=$CTL_LAST_PID
    if ! ctl_wait_until 20 "netflowd to start" grep -q 'started:' "$CTL_WORK/netflowd.err" ||
        ! ctl_wait_until 10 "the control socket" nfctl_quiet get protocol; then
        cat "$CTL_WORK/netflowd.err" >&2
        ctl_fail "netflowd did not start"
    fi
}

# nfctl ARGS...: netflowctl against this test's netflowd (run in the router namespace).
nfctl() { in_router "$NETFLOWCTL" --control "$CTL_SOCK" "$@"; }
nfctl_quiet() { nfctl "$@" >/dev/null 2>&1; }

# nfctl_ok ARGS...: must exit 0; stdout passed through.
nfctl_ok() {
    local out rc=0
    out=$(nfctl "$@" 2>"$CTL_WORK/nfctl.stderr") || rc=$?
    [[ $rc == 0 ]] || ctl_fail "netflowctl $* exited $rc: $(cat "$CTL_WORK/nfctl.stderr")"
    printf '%s\n' "$out"
}

# SIGTERM; netflowd must exit 0 within 30 s with a summary line (copied to WORK/summary).
ctl_stop_netflowd() {
    local pid=$CTL_NETFLOWD_PID rc=0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        ctl_kill_tree KILL "$pid"
        wait "$pid" 2>/dev/null || true
        ctl_forget "$pid"
        cat "$CTL_WORK/netflowd.err" >&2
        ctl_fail "netflowd did not exit within 30 s of SIGTERM"
    fi
    wait "$pid" || rc=$?
    ctl_forget "$pid"
    [[ $rc == 0 ]] || { cat "$CTL_WORK/netflowd.err" >&2; ctl_fail "netflowd exited with status $rc"; }
    grep '^netflowd: summary ' "$CTL_WORK/netflowd.err" >"$CTL_WORK/summary" ||
        { cat "$CTL_WORK/netflowd.err" >&2; ctl_fail "netflowd printed no summary line"; }
    ctl_log "$(cat "$CTL_WORK/summary")"
}

# --------------------------------------------------------------- collectors
ctl_udp_queue() { # PORT: receive queue of the socket bound to 127.0.0.1:PORT in the router
    in_router ss -Hlun "sport = :$1" 2>/dev/null | awk -v want="127.0.0.1:$1" '$4 == want { print $2 }'
}
ctl_bound() { [[ -n $(ctl_udp_queue "$1") ]]; }
ctl_drained() { [[ $(ctl_udp_queue "$1") == 0 ]]; }

# nfcapd in the router on 127.0.0.1:PORT writing into WORK/NAME.flows.
declare -A CTL_NFCAPD_PID
ctl_start_nfcapd() { # NAME PORT
    local name=$1 port=$2
    mkdir -p "$CTL_WORK/$name.flows"
    ctl_bg router nfcapd -w "$CTL_WORK/$name.flows" -b 127.0.0.1 -p "$port" -B 8388608 -t 3600 -I "$name" \
        >"$CTL_WORK/$name.nfcapd.log" 2>&1
    CTL_NFCAPD_PID[$name]=$CTL_LAST_PID
    ctl_wait_until 10 "nfcapd on 127.0.0.1:$port" ctl_bound "$port" ||
        { cat "$CTL_WORK/$name.nfcapd.log" >&2; ctl_fail "nfcapd did not start"; }
}

# Stops nfcapd (it then writes its file) after it read everything queued.
ctl_stop_nfcapd() { # NAME PORT
    local name=$1 port=$2 pid=${CTL_NFCAPD_PID[$1]}
    ctl_wait_until 30 "nfcapd $name to drain its socket" ctl_drained "$port" || true
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || ctl_log "nfcapd $name exited with $?"
    ctl_forget "$pid"
}

# ctl_nfdump NAME: every record nfcapd NAME stored, one line each:
# "proto src sport dst dport packets bytes" (ICMP: dport = type.code as nfdump prints it).
ctl_nfdump() {
    nfdump -R "$CTL_WORK/$1.flows" -q -N -o 'fmt:%pr %sa %sp %da %dp %pkt %byt' 2>/dev/null |
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
        >"$CTL_WORK/$name.export" 2>"$CTL_WORK/$name.tshark.log"
    CTL_TSHARK_PID[$name]=$CTL_LAST_PID
    CTL_TSHARK_MARK[$name]=$1
    ctl_wait_until 30 "tshark on lo" grep -q 'Capturing on' "$CTL_WORK/$name.tshark.log" ||
        { cat "$CTL_WORK/$name.tshark.log" >&2; ctl_fail "tshark did not start"; }
    # "Capturing on" comes before the capture is live: wait until a marker datagram shows.
    ctl_tshark_marker "$name"
}

# Sends a small non-NetFlow datagram to tshark NAME's marker port on the router's lo until
# tshark shows it: everything sent to lo before it has been printed.
ctl_tshark_marker() { # NAME
    local name=$1 port=${CTL_TSHARK_MARK[$1]} before
    before=$(awk -F'\t' -v p="$port" '$2 == p && $3 == ""' "$CTL_WORK/$name.export" | wc -l)
    for _ in $(seq 100); do
        in_router python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"m", ("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null || true
        sleep 0.1
        (($(awk -F'\t' -v p="$port" '$2 == p && $3 == ""' "$CTL_WORK/$name.export" | wc -l) > before)) && return 0
    done
    ctl_fail "tshark $name never showed the marker datagram to port $port"
}

ctl_stop_tshark() { # NAME
    local name=$1 pid=${CTL_TSHARK_PID[$1]}
    ctl_tshark_marker "$name"
    ctl_kill_tree TERM "$pid"
    wait "$pid" 2>/dev/null || true
    ctl_forget "$pid"
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
        grep -qE "[^0-9]$CTL_R0_MARK Len=$1\b" "$CTL_WORK/r0.out" && return 0
    done
    ctl_fail "tshark on r0 never showed the marker datagram"
}
ctl_start_capture_r0() {
    ctl_bg router tshark -n -l -P -B 64 -i r0 -f udp -w "$CTL_WORK/r0.pcapng" >"$CTL_WORK/r0.out" 2>"$CTL_WORK/r0.log"
    CTL_R0_PID=$CTL_LAST_PID
    ctl_wait_until 30 "tshark on r0" grep -q 'Capturing on' "$CTL_WORK/r0.log" ||
        { cat "$CTL_WORK/r0.log" >&2; ctl_fail "tshark on r0 did not start"; }
    ctl_r0_marker 11
}
# Stops the capture; per destination port DPORT, "SPORT COUNT" lines in WORK/r0.counts.
ctl_stop_capture_r0() { # DPORT
    ctl_r0_marker 12
    ctl_kill_tree TERM "$CTL_R0_PID"
    wait "$CTL_R0_PID" 2>/dev/null || true
    ctl_forget "$CTL_R0_PID"
    if grep -E '[1-9][0-9]* packets? dropped' "$CTL_WORK/r0.log" >&2; then
        ctl_log "WARNING: the capture on r0 dropped packets"
    fi
    tshark -n -r "$CTL_WORK/r0.pcapng" -Y "udp.dstport == $1" -T fields -e udp.srcport 2>/dev/null |
        sort -n | uniq -c | awk '{ print $2, $1 }' >"$CTL_WORK/r0.counts"
}

# ------------------------------------------------------------------ traffic
# ctl_udp ARGS...: ctltraffic.py udp in the client (src C4, dst R4); flow lines appended to
# WORK/flows.jsonl.
ctl_udp() {
    ctl_run in_client python3 "$CTL_DIR/ctltraffic.py" udp --src "$C4" --dst "$R4" "$@" >>"$CTL_WORK/flows.jsonl" ||
        ctl_fail "traffic generator failed: udp $*"
}

# NFLOG delivers in batches and netflowd's workers scan every 100 ms: give the last packets
# time to be metered.
ctl_settle() { sleep "${1:-0.5}"; }

# Waits until netflowd metered at least N packets in total (stat --json metered_packets).
ctl_wait_metered() { # N
    ctl_wait_until 10 "netflowd to meter $1 packets" ctl_metered_at_least "$1"
}
ctl_metered_at_least() {
    local m
    m=$(nfctl stat --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["metered_packets"])' 2>/dev/null) || return 1
    ((m >= $1))
}

# python3 ctlcheck.py SUBCOMMAND ...
ctl_check() { ctl_run python3 "$CTL_DIR/ctlcheck.py" "$@"; }
