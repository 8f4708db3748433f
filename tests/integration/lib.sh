# Shared plumbing for the end-to-end tests (sourced, not run):
#   - a scratch directory removed on any exit, and every background process
#     started here stopped on any exit (by pid, children first);
#   - collectors bound/listening on 127.0.0.1 only: nfcapd, pmacct's nfacctd
#     (print plugin), a plain UDP sink; tshark capturing on lo;
#   - run_case: nfgen -> netflowd (v5, v9 or IPFIX) -> collectors ->
#     compare_flows.py.
# Environment: NETFLOWD_TEST_KEEP=1 keeps the scratch directory for debugging.

INTEGRATION_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Process tracking, scratch directory, cleanup trap and watchdog: tests/netns_lib.sh (these
# tests create no namespaces).
NSH_NAME="integration test" NSH_FAMILY=nfit NSH_ROLES=none
NSH_DEADLINE=${IT_DEADLINE:-270} # seconds; below ctest's TIMEOUT 300 so the trap still runs
NSH_KEEP=${NETFLOWD_TEST_KEEP:-0}
# shellcheck source=../netns_lib.sh
source "$INTEGRATION_DIR/../netns_lib.sh"
nsh_init it
WORKDIR=$NSH_WORK

log() { nsh_log "$@"; }

# Exit status 77 = skipped for ctest (SKIP_RETURN_CODE): visible, not green.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "SKIP: missing tool: $tool" >&2; exit 77; }
    done
}

# A UDP port on 127.0.0.1 that nobody is bound to right now.
free_udp_port() {
    python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Receive queue (bytes) of the UDP socket bound to 127.0.0.1:$1, empty if none.
udp_recv_queue() {
    ss -Hlun "sport = :$1" 2>/dev/null | awk -v want="127.0.0.1:$1" '$4 == want { print $2 }'
}


nfcapd_ready() { [[ -n $(udp_recv_queue "$1") ]]; }
tshark_ready() { grep -q 'Capturing on' "$1"; }
queue_empty() { [[ $(udp_recv_queue "$1") == 0 ]]; }

# tshark prints "Capturing on" before its capture is really live (a burst sent
# right after it can be missed), and a stop can come before the last packets
# reached the file. So a marker datagram is sent to a second, otherwise unused
# port inside the capture filter until tshark (-P) shows it: then the capture
# is live, or everything sent before the marker has been captured (lo keeps
# the order). Markers are told apart by their length.
send_probe() { # PROBE_PORT TEXT (bash's /dev/udp: one datagram)
    printf '%s' "$2" >"/dev/udp/127.0.0.1/$1" 2>/dev/null || true
}
wait_for_probe() { # DIR PROBE_PORT TEXT [TSHARK_STDOUT (default DIR/tshark.out)]
    local dir=$1 probe_port=$2 text=$3 out=${4:-$1/tshark.out}
    for _ in $(seq 300); do
        send_probe "$probe_port" "$text"
        sleep 0.1
        # A summary line (-P): "... 127.0.0.1 → 127.0.0.1 UDP 47 51234 → PROBE_PORT Len=N",
        # or a "-T fields -e udp.dstport -e udp.length ..." line: "PROBE_PORT<TAB>8+N...".
        grep -qE "([^0-9]$probe_port Len=${#text}\b)|(^$probe_port	$((8 + ${#text}))\b)" "$out" && return 0
    done
    echo "tshark never showed the probe datagram to port $probe_port" >&2
    return 1
}

# start_nfacctd DIR PORT: pmacct's nfacctd with the print plugin, aggregating
# on the flow key and writing CSV to DIR/nfacctd.csv (log: DIR/nfacctd.log).
# The plugin writes when it purges its cache: every print_refresh_time, and
# at shutdown, i.e. after a SIGINT to the core process (SIGUSR1 only logs
# statistics). The refresh time is long, so the one purge is at shutdown;
# appending keeps an earlier purge if one happens anyway. The cache holds
# ~10 entries per bucket: 32771 buckets are plenty for the 166k keys of a
# 1M-packet nfgen capture. Sets NFACCTD_PID.
start_nfacctd() {
    local dir=$1 port=$2
    cat >"$dir/nfacctd.conf" <<EOF
daemonize: false
logfile: $dir/nfacctd.log
nfacctd_ip: 127.0.0.1
nfacctd_port: $port
nfacctd_pipe_size: 16777216
plugins: print[p]
aggregate[p]: src_host,dst_host,src_port,dst_port,proto,tos
print_output[p]: csv
print_output_file[p]: $dir/nfacctd.csv
print_output_file_append[p]: true
print_num_protos[p]: true
print_refresh_time[p]: 3600
print_cache_entries[p]: 32771
plugin_pipe_size[p]: 67108864
plugin_buffer_size[p]: 65536
EOF
    nfacctd -f "$dir/nfacctd.conf" >"$dir/nfacctd.out" 2>&1 &
    NFACCTD_PID=$!
    NSH_PIDS+=("$NFACCTD_PID")
    # Ready: the core is bound and the print plugin has allocated its cache.
    nsh_wait_until 20 "nfacctd on 127.0.0.1:$port" nfacctd_ready "$dir" "$port" ||
        { cat "$dir/nfacctd.out" "$dir/nfacctd.log" >&2 2>/dev/null; return 1; }
}
nfacctd_ready() { # DIR PORT
    grep -q "waiting for NetFlow/IPFIX data on 127.0.0.1:$2" "$1/nfacctd.log" 2>/dev/null &&
        grep -q "cache entries=" "$1/nfacctd.log" && [[ -n $(udp_recv_queue "$2") ]]
}

# stop_nfacctd DIR PORT: SIGINT to the core process only (a signal straight
# to the plugin process would end it without the purge), then wait until the
# core exits, which it does after the plugin purged and exited.
stop_nfacctd() {
    local port=$2 rc=0
    nsh_wait_until 30 "nfacctd to drain its socket" queue_empty "$port" || true
    kill -INT "$NFACCTD_PID" 2>/dev/null || true
    for _ in $(seq 600); do kill -0 "$NFACCTD_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$NFACCTD_PID" 2>/dev/null; then
        log "nfacctd did not exit within 60 s of SIGINT"
        nsh_kill_tree TERM "$NFACCTD_PID"
    fi
    wait "$NFACCTD_PID" || rc=$?
    [[ $rc == 0 ]] || log "nfacctd exited with $rc"
    nsh_forget "$NFACCTD_PID"
    NFACCTD_PID=
}

# start_udp_sink PORT: a socket on 127.0.0.1:PORT that reads and discards
# everything, so an exporter sending there gets no ICMP port unreachable.
# Sets SINK_PID.
start_udp_sink() {
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    s.recv(65535)
' "$1" &
    SINK_PID=$!
    NSH_PIDS+=("$SINK_PID")
    nsh_wait_until 10 "UDP sink on 127.0.0.1:$1" nfcapd_ready "$1"
}

# start_collectors DIR PORT [NFACCTD_PORT]: nfcapd writing into DIR/flows and
# tshark capturing what goes to PORT into DIR/export.pcapng; with NFACCTD_PORT
# also nfacctd (start_nfacctd). Sets NFCAPD_PID, TSHARK_PID, PROBE_PORT (and
# NFACCTD_PID).
start_collectors() {
    local dir=$1 port=$2 nfacctd_port=${3:-}
    mkdir -p "$dir/flows"
    PROBE_PORT=$(free_udp_port)
    # -B: the default 208 KiB socket buffer overflows at 20000 datagrams/s.
    # -t 3600: one file per hour (a rotation mid-run is harmless: -R reads all).
    nfcapd -w "$dir/flows" -b 127.0.0.1 -p "$port" -B 16777216 -t 3600 -I netflowd-test \
        >"$dir/nfcapd.log" 2>&1 &
    NFCAPD_PID=$!
    NSH_PIDS+=("$NFCAPD_PID")
    if [[ -n $nfacctd_port ]]; then
        start_nfacctd "$dir" "$nfacctd_port" || return 1
    fi
    # -B 64: a 64 MiB capture buffer, dumpcap must not drop during the burst.
    # -P -l: packet summaries on stdout even while writing the file (probes).
    tshark -n -l -P -i lo -B 64 -f "udp and host 127.0.0.1 and (port $port or port $PROBE_PORT)" \
        -w "$dir/export.pcapng" >"$dir/tshark.out" 2>"$dir/tshark.log" &
    TSHARK_PID=$!
    NSH_PIDS+=("$TSHARK_PID")
    nsh_wait_until 10 "nfcapd on 127.0.0.1:$port" nfcapd_ready "$port" || { cat "$dir/nfcapd.log" >&2; return 1; }
    nsh_wait_until 30 "tshark capture start" tshark_ready "$dir/tshark.log" || { cat "$dir/tshark.log" >&2; return 1; }
    wait_for_probe "$dir" "$PROBE_PORT" start || { cat "$dir/tshark.log" >&2; return 1; }
}

# stop_collectors DIR PORT [NFACCTD_PORT]: let nfcapd drain its socket and
# tshark see the end marker, then SIGTERM both (nfcapd writes its last file
# and statistics); then stop nfacctd (stop_nfacctd).
stop_collectors() {
    local dir=$1 port=$2 nfacctd_port=${3:-}
    nsh_wait_until 30 "nfcapd to drain its socket" queue_empty "$port" || true
    wait_for_probe "$dir" "$PROBE_PORT" end-of-run || true # a different length than "start"
    kill -TERM "$TSHARK_PID" "$NFCAPD_PID" 2>/dev/null || true
    wait "$TSHARK_PID" || log "tshark exited with $?"
    wait "$NFCAPD_PID" || log "nfcapd exited with $?"
    nsh_forget "$TSHARK_PID"
    nsh_forget "$NFCAPD_PID"
    if [[ -n $nfacctd_port ]]; then
        stop_nfacctd "$dir" "$nfacctd_port"
    fi
}

# The timeouts nfgen's traffic is shaped for (many flows end up in several records).
ACTIVE_TIMEOUT=60
INACTIVE_TIMEOUT=15
EXPORT_RATE=20000 # datagrams/s

# After a failed start: stop whatever did start, without waiting for anything.
kill_collectors() {
    local pid
    for pid in ${TSHARK_PID:-} ${NFCAPD_PID:-} ${NFACCTD_PID:-}; do
        nsh_kill_tree TERM "$pid"
        wait "$pid" 2>/dev/null || true
        nsh_forget "$pid"
    done
}

# A second free port, different from $1 (the kernel may hand out the same
# ephemeral port twice, since free_udp_port releases it at once).
other_free_udp_port() {
    local port
    port=$(free_udp_port) || return 1
    while [[ $port == "$1" ]]; do port=$(free_udp_port) || return 1; done
    echo "$port"
}

# run_case NETFLOWD NFGEN PROTOCOL LINKTYPE PACKETS FLOWS SEED [nfacctd]
# Generates a capture, meters it with netflowd (protocol=5, 9 or 10) towards
# nfcapd on 127.0.0.1 (with "nfacctd" also towards nfacctd on another port, in
# the same run: destination=A,B), and checks collectors, capture and
# netflowd's summary against nfgen's truth.
run_case() {
    local netflowd=$1 nfgen=$2 protocol=$3 linktype=$4 packets=$5 flows=$6 seed=$7 with=${8:-}
    local label dir port nfacctd_port="" destination rc=0 extra=()
    case $protocol in
        5 | 9) label="v$protocol-$linktype" ;;
        10) label="ipfix-$linktype" ;;
        *) echo "run_case: protocol $protocol" >&2; return 2 ;;
    esac
    dir="$WORKDIR/$label"
    mkdir -p "$dir"

    log "[$label] nfgen: $packets packets, $flows live flows, seed $seed"
    # Explicit "|| return": callers may run this in an || list, where set -e is off.
    nsh_run "$nfgen" --out "$dir/input.pcap" --expected "$dir/expected.csv" --packets "$packets" --flows "$flows" \
        --seed "$seed" --linktype "$linktype" >"$dir/nfgen.out" || { echo "FAIL [$label]: nfgen" >&2; return 1; }
    cat "$dir/nfgen.out" >&2

    port=$(free_udp_port) || return 1
    destination="127.0.0.1:$port"
    if [[ $with == nfacctd ]]; then
        nfacctd_port=$(other_free_udp_port "$port") || return 1
        destination+=",127.0.0.1:$nfacctd_port"
        extra=(--nfacctd-csv "$dir/nfacctd.csv" --nfacctd-log "$dir/nfacctd.log")
    fi
    log "[$label] collectors: nfcapd + tshark on 127.0.0.1:$port${nfacctd_port:+, nfacctd on 127.0.0.1:$nfacctd_port}"
    start_collectors "$dir" "$port" "$nfacctd_port" ||
        { kill_collectors; echo "FAIL [$label]: collectors" >&2; return 1; }

    log "[$label] netflowd --read input.pcap protocol=$protocol destination=$destination"
    nsh_run timeout 240 "$netflowd" --read "$dir/input.pcap" "destination=$destination" "protocol=$protocol" \
        active_timeout=$ACTIVE_TIMEOUT inactive_timeout=$INACTIVE_TIMEOUT export_rate=$EXPORT_RATE \
        2>"$dir/netflowd.err" || rc=$?
    tail -n 3 "$dir/netflowd.err" >&2
    stop_collectors "$dir" "$port" "$nfacctd_port"
    if [[ $rc != 0 ]]; then
        echo "FAIL [$label]: netflowd exited with status $rc" >&2
        cat "$dir/netflowd.err" >&2
        return 1
    fi

    log "[$label] comparing"
    nsh_run python3 "$INTEGRATION_DIR/compare_flows.py" --label "$label" --protocol "$protocol" \
        --expected "$dir/expected.csv" --nfgen-summary "$dir/nfgen.out" \
        --netflowd-stderr "$dir/netflowd.err" --flows-dir "$dir/flows" --nfcapd-log "$dir/nfcapd.log" \
        --capture "$dir/export.pcapng" --tshark-log "$dir/tshark.log" --port "$port" --probe-port "$PROBE_PORT" \
        --active-timeout "$ACTIVE_TIMEOUT" --inactive-timeout "$INACTIVE_TIMEOUT" --export-rate "$EXPORT_RATE" \
        "${extra[@]}"
}

# run_v5_case NETFLOWD NFGEN LINKTYPE PACKETS FLOWS SEED: run_case, protocol 5.
run_v5_case() {
    run_case "$1" "$2" 5 "${@:3}"
}
