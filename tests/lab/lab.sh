# Lab harness for live-capture tests (sourced, not run).
# shellcheck shell=bash
#
# Three network namespaces joined by veth pairs, created directly inside the
# namespaces (nothing is ever added to the caller's namespace):
#
#   client (c0) 10.77.1.2/24 fd00:77:1::2/64
#      |
#   (r0) router (r1)       10.77.1.1 fd00:77:1::1 | 10.77.2.1 fd00:77:2::1, forwarding on
#                                                     |
#                                         server (s0) 10.77.2.2/24 fd00:77:2::2/64
#
# Everything that runs here runs inside those namespaces: netflowd, nfcapd
# and tshark in the router (collectors on the router's 127.0.0.1), traffic
# sources and sinks in all three. Traffic only ever flows between these
# addresses and loopback inside the namespaces.
#
# Teardown (trap on EXIT, INT, TERM, and a watchdog before ctest's timeout):
# every tracked process and its children are stopped, then any process still
# inside one of our namespaces (only we start processes there), then the
# namespaces are deleted, which removes veths, addresses, routes, iptables and
# nftables rules with them. Namespaces left by a run that was killed with
# SIGKILL (so no trap ran) are named nflab-PID-*: lab_init removes those whose
# PID is gone.
#
# Environment: NETFLOWD_LAB_KEEP=1 keeps the scratch directory (not the namespaces).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NSH_NAME=lab NSH_FAMILY=nflab NSH_ROLES="client|router|server"
NSH_DEADLINE=${LAB_DEADLINE:-270} # seconds; below ctest's TIMEOUT 300 so the trap still runs
NSH_KEEP=${NETFLOWD_LAB_KEEP:-0}
# shellcheck source=../netns_lib.sh
source "$LAB_DIR/../netns_lib.sh"
NS_CLIENT="$NSH_PREFIX-client"
NS_ROUTER="$NSH_PREFIX-router"
NS_SERVER="$NSH_PREFIX-server"

# Addresses (inside the namespaces only).
C4=10.77.1.2 R4C=10.77.1.1 R4S=10.77.2.1 S4=10.77.2.2
C6=fd00:77:1::2 R6C=fd00:77:1::1 R6S=fd00:77:2::1 S6=fd00:77:2::2

lab_log() { nsh_log "$@"; }
lab_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

in_client() { ip netns exec "$NS_CLIENT" "$@"; }
in_router() { ip netns exec "$NS_ROUTER" "$@"; }
in_server() { ip netns exec "$NS_SERVER" "$@"; }

lab_require() { nsh_require_root_and_tools ip ping ss tshark nfcapd nfdump python3 ethtool "$@"; }
lab_init() { nsh_init lab; }

# lab_bg ROLE COMMAND...: a tracked background command in namespace ROLE (client, router,
# server); its pid in NSH_LAST_PID.
lab_bg() {
    local ns
    case $1 in
        client) ns=$NS_CLIENT ;;
        router) ns=$NS_ROUTER ;;
        server) ns=$NS_SERVER ;;
        *) lab_fail "lab_bg: unknown namespace $1" ;;
    esac
    shift
    nsh_bg_in "$ns" "$@"
}

lab_mac() { # NAMESPACE DEVICE
    ip -n "$1" link show dev "$2" | awk '$1 == "link/ether" { print $2 }'
}

lab_setup() {
    local ns
    for ns in "$NS_CLIENT" "$NS_ROUTER" "$NS_SERVER"; do
        nsh_add_namespace "$ns"
        nsh_capture_lo_datagrams "$ns"
        # Before the veths exist, so they inherit it: no duplicate address
        # detection (addresses usable at once), no router solicitations.
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
            net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0
    done
    ip -n "$NS_ROUTER" link add r0 type veth peer name c0 netns "$NS_CLIENT"
    ip -n "$NS_ROUTER" link add r1 type veth peer name s0 netns "$NS_SERVER"

    ip -n "$NS_CLIENT" addr add "$C4/24" dev c0
    ip -n "$NS_CLIENT" addr add "$C6/64" dev c0 nodad
    ip -n "$NS_ROUTER" addr add "$R4C/24" dev r0
    ip -n "$NS_ROUTER" addr add "$R6C/64" dev r0 nodad
    ip -n "$NS_ROUTER" addr add "$R4S/24" dev r1
    ip -n "$NS_ROUTER" addr add "$R6S/64" dev r1 nodad
    ip -n "$NS_SERVER" addr add "$S4/24" dev s0
    ip -n "$NS_SERVER" addr add "$S6/64" dev s0 nodad
    ip -n "$NS_CLIENT" link set c0 up
    ip -n "$NS_ROUTER" link set r0 up
    ip -n "$NS_ROUTER" link set r1 up
    ip -n "$NS_SERVER" link set s0 up
    # Routes to the far subnet only (no default route: nothing else is reachable anyway).
    ip -n "$NS_CLIENT" route add 10.77.2.0/24 via "$R4C"
    ip -n "$NS_CLIENT" -6 route add fd00:77:2::/64 via "$R6C"
    ip -n "$NS_SERVER" route add 10.77.1.0/24 via "$R4S"
    ip -n "$NS_SERVER" -6 route add fd00:77:1::/64 via "$R6S"
    in_router sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    # Permanent neighbours: no ARP/ND resolution in the middle of a burst (a neighbour being
    # resolved queues only a few packets and drops the rest) and less noise in captures.
    local mac_c0 mac_r0 mac_r1 mac_s0
    mac_c0=$(lab_mac "$NS_CLIENT" c0)
    mac_r0=$(lab_mac "$NS_ROUTER" r0)
    mac_r1=$(lab_mac "$NS_ROUTER" r1)
    mac_s0=$(lab_mac "$NS_SERVER" s0)
    ip -n "$NS_CLIENT" neigh replace "$R4C" lladdr "$mac_r0" dev c0 nud permanent
    ip -n "$NS_CLIENT" neigh replace "$R6C" lladdr "$mac_r0" dev c0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$C4" lladdr "$mac_c0" dev r0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$C6" lladdr "$mac_c0" dev r0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$S4" lladdr "$mac_s0" dev r1 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$S6" lladdr "$mac_s0" dev r1 nud permanent
    ip -n "$NS_SERVER" neigh replace "$R4S" lladdr "$mac_r1" dev s0 nud permanent
    ip -n "$NS_SERVER" neigh replace "$R6S" lladdr "$mac_r1" dev s0 nud permanent

    # Connectivity, before any measurement.
    if ! { in_client ping -q -c 1 -W 2 "$S4" && in_client ping -q -c 1 -W 2 "$S6" &&
        in_router ping -q -c 1 -W 2 "$C4" && in_router ping -q -c 1 -W 2 "$C6"; } >/dev/null; then
        lab_fail "lab network: no connectivity"
    fi

    python3 "$LAB_DIR/labflows.py" topology --router-ns "$NS_ROUTER" >"$NSH_WORK/topology.json" ||
        lab_fail "lab network: topology"
    lab_log "lab up: router $(python3 "$LAB_DIR/labflows.py" topology --summary "$NSH_WORK/topology.json")"
}

# The bridge variant (lab.physdev): the middle namespace ($NS_ROUTER, so every helper and
# the stale sweep apply) is a bridge instead of a router; client and server share one subnet.
#
#   client (c0) 10.77.1.2/24 fd00:77:1::2/64 --- (b0) br0 (b1) --- (s0) server 10.77.1.3/24 fd00:77:1::3/64
#                                      br0: 10.77.1.1/24 fd00:77:1::1/64 (markers, sinks)
#
# br_netfilter (bridge-nf-call-ip(6)tables=1) makes iptables FORWARD see bridged packets
# with in = out = br0 and the ports as physdev. The sysctls are per network namespace
# (kernel >= 5.3): they are set inside the bridge namespace only; on a kernel where they
# are global the host value is restored by nsh_cleanup.
lab_bridge_sysctls() {
    local key host_before host_after
    [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] ||
        { echo "SKIP: br_netfilter is not loaded (no /proc/sys/net/bridge)" >&2; exit 77; }
    for key in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables; do
        host_before=$(sysctl -n "$key")
        in_router sysctl -qw "$key=1" || { echo "SKIP: cannot set $key in the bridge namespace" >&2; exit 77; }
        [[ $(in_router sysctl -n "$key") == 1 ]] || lab_fail "$key is not 1 in the bridge namespace"
        host_after=$(sysctl -n "$key")
        if [[ $host_after != "$host_before" ]]; then
            NSH_RESTORE_SYSCTLS+=("$key=$host_before")
            lab_log "$key is global on this kernel: host value $host_before restored at exit"
        fi
    done
}

lab_setup_bridge() {
    local ns
    S4=10.77.1.3 S6=fd00:77:1::3 R4S=$R4C R6S=$R6C
    for ns in "$NS_CLIENT" "$NS_ROUTER" "$NS_SERVER"; do
        nsh_add_namespace "$ns"
        nsh_capture_lo_datagrams "$ns"
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
            net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_ra=0
    done
    lab_bridge_sysctls
    # No STP (forwarding at once), no multicast snooping (no querier traffic), no IPv6 on the
    # ports themselves.
    ip -n "$NS_ROUTER" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    ip -n "$NS_ROUTER" link add b0 type veth peer name c0 netns "$NS_CLIENT"
    ip -n "$NS_ROUTER" link add b1 type veth peer name s0 netns "$NS_SERVER"
    in_router sysctl -qw net.ipv6.conf.b0.disable_ipv6=1 net.ipv6.conf.b1.disable_ipv6=1
    ip -n "$NS_ROUTER" link set b0 master br0
    ip -n "$NS_ROUTER" link set b1 master br0
    ip -n "$NS_CLIENT" addr add "$C4/24" dev c0
    ip -n "$NS_CLIENT" addr add "$C6/64" dev c0 nodad
    ip -n "$NS_ROUTER" addr add "$R4C/24" dev br0
    ip -n "$NS_ROUTER" addr add "$R6C/64" dev br0 nodad
    ip -n "$NS_SERVER" addr add "$S4/24" dev s0
    ip -n "$NS_SERVER" addr add "$S6/64" dev s0 nodad
    ip -n "$NS_CLIENT" link set c0 up
    ip -n "$NS_ROUTER" link set b0 up
    ip -n "$NS_ROUTER" link set b1 up
    ip -n "$NS_ROUTER" link set br0 up
    ip -n "$NS_SERVER" link set s0 up
    # Permanent neighbours and static FDB entries: no ARP/ND and no unknown-unicast flooding.
    local mac_c0 mac_s0 mac_br
    mac_c0=$(lab_mac "$NS_CLIENT" c0)
    mac_s0=$(lab_mac "$NS_SERVER" s0)
    mac_br=$(lab_mac "$NS_ROUTER" br0)
    bridge -n "$NS_ROUTER" fdb replace "$mac_c0" dev b0 master static
    bridge -n "$NS_ROUTER" fdb replace "$mac_s0" dev b1 master static
    local a
    for a in "$S4" "$S6"; do ip -n "$NS_CLIENT" neigh replace "$a" lladdr "$mac_s0" dev c0 nud permanent; done
    for a in "$C4" "$C6"; do ip -n "$NS_SERVER" neigh replace "$a" lladdr "$mac_c0" dev s0 nud permanent; done
    for a in "$R4C" "$R6C"; do
        ip -n "$NS_CLIENT" neigh replace "$a" lladdr "$mac_br" dev c0 nud permanent
        ip -n "$NS_SERVER" neigh replace "$a" lladdr "$mac_br" dev s0 nud permanent
    done
    ip -n "$NS_ROUTER" neigh replace "$C4" lladdr "$mac_c0" dev br0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$C6" lladdr "$mac_c0" dev br0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$S4" lladdr "$mac_s0" dev br0 nud permanent
    ip -n "$NS_ROUTER" neigh replace "$S6" lladdr "$mac_s0" dev br0 nud permanent

    if ! { in_client ping -q -c 1 -W 2 "$S4" && in_client ping -q -c 1 -W 2 "$S6" &&
        in_client ping -q -c 1 -W 2 "$R4C" && in_server ping -q -c 1 -W 2 "$R4C"; } >/dev/null; then
        lab_fail "lab network (bridge): no connectivity"
    fi
    python3 "$LAB_DIR/labflows.py" topology --router-ns "$NS_ROUTER" >"$NSH_WORK/topology.json" ||
        lab_fail "lab network: topology"
    # The MACs behind each port: a frame captured on b0 is received there when it comes from c0.
    # shellcheck disable=SC2034 # for the caller (labflows.py physdev)
    LAB_PEER_MACS=(--peer-mac "b0=$mac_c0" --peer-mac "b1=$mac_s0")
    LAB_CAPTURE_IFACES="b0 b1 lo"
    lab_log "lab up (bridge): $(python3 "$LAB_DIR/labflows.py" topology --summary "$NSH_WORK/topology.json")," \
        "c0 $mac_c0, s0 $mac_s0"
}

# ---------------------------------------------------------------- capture
# One tshark in the router on r0, r1 and lo: the ground truth of every packet
# on the router's links and every export datagram. tshark prints "Capturing
# on" before the capture is live, and a stop may come before the last packets
# reach the file, so marker datagrams (to port LAB_PROBE_PORT, told apart by
# their length) are sent over each interface until tshark shows them.
LAB_PROBE_PORT=9

lab_probe_seen() { # LEN
    grep -qE "[^0-9]$LAB_PROBE_PORT Len=$1\b" "$NSH_WORK/capture.out"
}

# Sends one marker over each of lo, r0 and r1 (payload lengths BASE+0/1/2)
# until tshark showed all three.
lab_probe() { # BASE
    local base=$1 p0 p1 p2
    p0=$(printf '%*s' "$base" '' | tr ' ' l)
    p1=$(printf '%*s' $((base + 1)) '' | tr ' ' c)
    p2=$(printf '%*s' $((base + 2)) '' | tr ' ' s)
    for _ in $(seq 100); do
        kill -0 "$LAB_CAPTURE_PID" 2>/dev/null || { echo "tshark is gone" >&2; return 1; }
        lab_probe_seen "$base" || in_router python3 "$LAB_DIR/labtraffic.py" probe --dst 127.0.0.1 --port "$LAB_PROBE_PORT" --text "$p0"
        lab_probe_seen $((base + 1)) || in_client python3 "$LAB_DIR/labtraffic.py" probe --dst "$R4C" --port "$LAB_PROBE_PORT" --text "$p1"
        lab_probe_seen $((base + 2)) || in_server python3 "$LAB_DIR/labtraffic.py" probe --dst "$R4S" --port "$LAB_PROBE_PORT" --text "$p2"
        sleep 0.2
        lab_probe_seen "$base" && lab_probe_seen $((base + 1)) && lab_probe_seen $((base + 2)) && return 0
    done
    echo "tshark never showed the marker datagrams (length $base..$((base + 2)))" >&2
    return 1
}

LAB_CAPTURE_IFACES="r0 r1 lo" # lab_setup_bridge: b0 b1 lo
lab_start_capture() {
    local iface args=()
    for iface in $LAB_CAPTURE_IFACES; do args+=(-i "$iface"); done
    # -B 64 before the first -i: a 64 MiB buffer for every interface (after an -i it would
    # apply to that one only); dumpcap must not drop during bursts.
    lab_bg router tshark -n -l -P -B 64 "${args[@]}" -w "$NSH_WORK/capture.pcapng" \
        >"$NSH_WORK/capture.out" 2>"$NSH_WORK/capture.log"
    LAB_CAPTURE_PID=$NSH_LAST_PID
    nsh_wait_until 30 "tshark capture start" grep -q 'Capturing on' "$NSH_WORK/capture.log" ||
        { cat "$NSH_WORK/capture.log" >&2; return 1; }
    lab_probe 30 || { cat "$NSH_WORK/capture.log" >&2; return 1; }
}

lab_stop_capture() {
    lab_probe 40 || true
    kill -TERM "$LAB_CAPTURE_PID" 2>/dev/null || true
    wait "$LAB_CAPTURE_PID" || lab_log "tshark exited with $?"
    nsh_forget "$LAB_CAPTURE_PID"
    # tshark reports "N packets dropped from IFACE" when the kernel dropped some: then the
    # ground truth is incomplete (an overloaded machine), not netflowd wrong.
    if grep -E '[1-9][0-9]* packets? dropped' "$NSH_WORK/capture.log" >&2; then
        lab_log "WARNING: the ground-truth capture dropped packets (machine overloaded?)"
        # labflows.py then reports capture-vs-generator differences as a warning, not a
        # failure: the generators' own counts stay the truth for UDP and ICMP flows.
        export LAB_CAPTURE_DROPPED=1
    fi
}

# --------------------------------------------------------------- collectors
# nfcapd in the router on 127.0.0.1:PORT writing into WORK/NAME.flows.

declare -A LAB_COLLECTOR_PID
lab_start_collector() { # NAME PORT
    local name=$1 port=$2
    mkdir -p "$NSH_WORK/$name.flows"
    lab_bg router nfcapd -w "$NSH_WORK/$name.flows" -b 127.0.0.1 -p "$port" -B 8388608 -t 3600 -I "$name" \
        >"$NSH_WORK/$name.nfcapd.log" 2>&1
    LAB_COLLECTOR_PID[$name]=$NSH_LAST_PID
    nsh_wait_until 10 "nfcapd on 127.0.0.1:$port" nsh_bound "$port" || { cat "$NSH_WORK/$name.nfcapd.log" >&2; return 1; }
}

lab_stop_collector() { # NAME PORT
    local name=$1 port=$2 pid=${LAB_COLLECTOR_PID[$1]}
    nsh_wait_until 30 "nfcapd $name to drain its socket" nsh_drained "$port" || true
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || lab_log "nfcapd $name exited with $?"
    nsh_forget "$pid"
}

# ----------------------------------------------------------------- netflowd
# lab_start_netflowd NAME ARGS...: netflowd in the router, stderr in WORK/NAME.err.
declare -A LAB_NETFLOWD_PID
# Isolation from the host and from other netflowd instances: a control socket of our own
# (the default path under /run is shared by every network namespace) and an empty
# configuration file instead of /etc/netflowd.conf -- for binaries that have these options.
lab_netflowd_isolation() { # NAME -> LAB_ISOLATION (array)
    LAB_ISOLATION=()
    : >"$NSH_WORK/empty.conf"
    if "$NETFLOWD" --control "$NSH_WORK/probe.sock" --version >/dev/null 2>&1; then
        LAB_ISOLATION+=(--control "$NSH_WORK/$1.sock")
    fi
    if "$NETFLOWD" --config "$NSH_WORK/empty.conf" --version >/dev/null 2>&1; then
        LAB_ISOLATION+=(--config "$NSH_WORK/empty.conf")
    fi
}

lab_start_netflowd() {
    local name=$1
    shift
    lab_netflowd_isolation "$name"
    lab_log "netflowd[$name]: ${LAB_ISOLATION[*]} $*"
    lab_bg router "$NETFLOWD" "${LAB_ISOLATION[@]}" "$@" 2>"$NSH_WORK/$name.err"
    LAB_NETFLOWD_PID[$name]=$NSH_LAST_PID
    # "started:" is logged once every source is bound (NFLOG group, AF_PACKET ring).
    if ! nsh_wait_until 20 "netflowd $name to start" grep -q 'started:' "$NSH_WORK/$name.err"; then
        cat "$NSH_WORK/$name.err" >&2
        return 1
    fi
}

# SIGTERM; netflowd must exit 0 within 30 s with a summary line. When the signal was
# sent (Unix time) in LAB_STOP_AT, how long the exit took (seconds, 0.05 s resolution)
# in LAB_STOP_SECONDS.
lab_stop_netflowd() { # NAME
    local name=$1 pid=${LAB_NETFLOWD_PID[$1]} rc=0 t0
    t0=$(date +%s%N)
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    # shellcheck disable=SC2034 # for the caller
    LAB_STOP_AT=$((t0 / 1000000000)).$(printf '%09d' $((t0 % 1000000000)))
    LAB_STOP_SECONDS=$(( ($(date +%s%N) - t0) / 1000000 ))
    LAB_STOP_SECONDS=$((LAB_STOP_SECONDS / 1000)).$(printf '%03d' $((LAB_STOP_SECONDS % 1000)))
    if kill -0 "$pid" 2>/dev/null; then
        nsh_kill_tree KILL "$pid"
        wait "$pid" 2>/dev/null || true
        nsh_forget "$pid"
        cat "$NSH_WORK/$name.err" >&2
        lab_fail "netflowd $name did not exit within 30 s of SIGTERM"
    fi
    wait "$pid" || rc=$?
    nsh_forget "$pid"
    grep -E '^netflowd: (summary|[0-9]+ packets read)' "$NSH_WORK/$name.err" >&2 || true
    [[ $rc == 0 ]] || { cat "$NSH_WORK/$name.err" >&2; lab_fail "netflowd $name exited with status $rc"; }
    grep -q '^netflowd: summary ' "$NSH_WORK/$name.err" || lab_fail "netflowd $name printed no summary line"
}

# ------------------------------------------------------------------ traffic
# Every generator appends one JSON line per flow it produced to WORK/flows.jsonl
# (addresses, protocol, ports, TOS; packets and bytes when known in advance).
lab_traffic() { # NS-FUNCTION labtraffic.py ARGS...
    local where=$1
    shift
    nsh_run "$where" python3 "$LAB_DIR/labtraffic.py" "$@" >>"$NSH_WORK/flows.jsonl" ||
        lab_fail "traffic generator failed: $where $*"
}

# Sinks: UDP ports that receive and discard (no ICMP port unreachable noise)
# and TCP servers that answer with the number of bytes the client asks for.
lab_start_sinks() {
    lab_bg server python3 "$LAB_DIR/labtraffic.py" sink --ready "$NSH_WORK/sink.server" \
        --udp "$S4,5001" --udp "$S6,5001" --tcp "$S4,6001" --tcp "$S6,6001"
    lab_bg client python3 "$LAB_DIR/labtraffic.py" sink --ready "$NSH_WORK/sink.client" \
        --udp "$C4,40002" --udp "$C6,40002" --udp "$C4,40004" --udp "$C6,40004"
    lab_bg router python3 "$LAB_DIR/labtraffic.py" sink --ready "$NSH_WORK/sink.router" \
        --udp "$R4C,5003" --udp "$R6C,5003" --udp "0.0.0.0,$LAB_PROBE_PORT" --tcp "$R4C,6002" --tcp "$R6C,6002"
    nsh_wait_until 10 "traffic sinks" test -e "$NSH_WORK/sink.server" -a -e "$NSH_WORK/sink.client" \
        -a -e "$NSH_WORK/sink.router"
}

# The standard mix, for IPv4 and IPv6 (F = forwarded, I = to the router, O = from it):
#   F  UDP client->server 7 x 300 B, the same 5-tuple with TOS 0x20 3 x 50 B,
#      UDP server->client 5 x 1000 B, ping client->server 5 x 64 B,
#      TCP client->server 60000 B up / 30000 B down
#   I  UDP client->router 4 x 200 B, ping client->router 3 x 100 B (reply: O),
#      TCP client->router 20000 B up / 3000 B down (replies: O)
#   O  UDP router->client 6 x 120 B, ping router->client 4 x 200 B (reply: I)
lab_standard_traffic() {
    local fam c s r
    for fam in 4 6; do
        if [[ $fam == 4 ]]; then c=$C4 s=$S4 r=$R4C; else c=$C6 s=$S6 r=$R6C; fi
        lab_traffic in_client udp --src "$c" --dst "$s" --sport 40001 --dport 5001 --count 7 --size 300
        lab_traffic in_client udp --src "$c" --dst "$s" --sport 40001 --dport 5001 --count 3 --size 50 --tos 0x20
        lab_traffic in_server udp --src "$s" --dst "$c" --sport 5002 --dport 40002 --count 5 --size 1000
        lab_traffic in_client ping --src "$c" --dst "$s" --count 5 --size 64
        lab_traffic in_client tcp --src "$c" --dst "$s" --sport 41001 --dport 6001 --send 60000 --recv 30000
        lab_traffic in_client udp --src "$c" --dst "$r" --sport 40003 --dport 5003 --count 4 --size 200
        lab_traffic in_client ping --src "$c" --dst "$r" --count 3 --size 100
        lab_traffic in_client tcp --src "$c" --dst "$r" --sport 41002 --dport 6002 --send 20000 --recv 3000
        lab_traffic in_router udp --src "$r" --dst "$c" --sport 5004 --dport 40004 --count 6 --size 120
        lab_traffic in_router ping --src "$r" --dst "$c" --count 4 --size 200
    done
}

# NFLOG delivers in batches (netflowd asks for at most 10 ms of delay): give
# the last packets time to reach netflowd before it is stopped.
lab_settle() { sleep 1; }

# ------------------------------------------------------------------- checks
# lab_check SUBCOMMAND LABEL NETFLOWD-NAME COLLECTOR-NAME PORT [ARGS...]: labflows.py against
# this run's capture, collector and netflowd output. Returns its status.
lab_check() {
    local sub=$1 label=$2 nf=$3 coll=$4 port=$5
    shift 5
    lab_log "checking $label"
    nsh_run python3 "$LAB_DIR/labflows.py" "$sub" --label "$label" --topology "$NSH_WORK/topology.json" \
        --capture "$NSH_WORK/capture.pcapng" --flows "$NSH_WORK/flows.jsonl" --flows-dir "$NSH_WORK/$coll.flows" \
        --nfcapd-log "$NSH_WORK/$coll.nfcapd.log" --netflowd-err "$NSH_WORK/$nf.err" --port "$port" "$@"
}

# NFLOG rules for group G in the router: INPUT, OUTPUT, FORWARD, IPv4 and IPv6, never
# loopback (netflowd's own export to 127.0.0.1 must not be metered).
lab_iptables_nflog() { # GROUP [CHAINS...]
    local g=$1 chain t
    shift
    local chains="${*:-INPUT OUTPUT FORWARD}"
    for t in iptables ip6tables; do
        for chain in $chains; do
            case $chain in
                INPUT) in_router "$t" -A INPUT ! -i lo -j NFLOG --nflog-group "$g" ;;
                OUTPUT) in_router "$t" -A OUTPUT ! -o lo -j NFLOG --nflog-group "$g" ;;
                FORWARD) in_router "$t" -A FORWARD -j NFLOG --nflog-group "$g" ;;
            esac
        done
    done
}
