#!/usr/bin/env bash
# A collector started late must learn every template within timeout_rate
# minutes (docs/export-formats.md: templates are re-sent by timer).
#
# For protocol 9 and 10: netflowd replays an nfgen capture spanning ~5 minutes
# of packet time (plus one IGMP packet: a template without further traffic)
# with timeout_rate=1 refresh_rate=1000000 (templates refreshed by time only,
# every minute of capture time), paced by export_rate so that the replay
# takes several seconds. tshark captures the whole export from the
# start (a UDP sink receives it); a second tshark, the late collector, starts
# only once netflowd's messages carry an export time ~40 s into the capture.
# late_collector.py then requires:
#   - the whole capture: every data template re-sent every 60 s (+-3 s), the
#     IGMP one too, although it has no data after its first record;
#   - the late capture: the collector really started late (it holds data it
#     cannot decode yet, for templates sent before it started), it covers more
#     than a refresh period, and no data set arriving later than 60 s (+3 s)
#     after its start lacks its template; every template known before the
#     start is re-sent within that window; tshark agrees set by set;
#   - nfcapd, fed the late capture's datagrams in order (a second decoder),
#     stores exactly the flow records tshark decoded from it.
# Self-check of the test's power, same run with timeout_rate=0 (no time-based
# refresh): the checker must find data still undecodable after the window,
# and templates sent only once.
# usage: late_collector.sh NETFLOWD NFGEN [PROTOCOL...]   (default: 9 10)
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 NETFLOWD NFGEN [9] [10]" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
require_tools tshark mergecap nfcapd nfdump ss python3
netflowd=$1 nfgen=$2
shift 2
protocols=("$@")
[[ ${#protocols[@]} -gt 0 ]] || protocols=(9 10)

# The late collector starts when netflowd's export time passes LATE_AFTER
# seconds of capture time (templates go out first at ~16 s, with the first
# expired flows). tshark then needs ~1.5-2 s to be live: at 400 datagrams/s
# (~9 per second of capture time) that puts the late start ~100 s into the
# ~315 s capture, leaving three refresh periods; up to ~4 s would still do.
# The self-check needs only one period after the late start.
# (Overridable from the environment, for experiments.)
LATE_AFTER=${LATE_AFTER:-20}
LATE_EXPORT_RATE=${LATE_EXPORT_RATE:-400}
SELF_CHECK_EXPORT_RATE=${SELF_CHECK_EXPORT_RATE:-600}

# nfgen's traffic keeps every template shape busy (no shape is idle for a
# minute), so one IGMP packet (a shape of its own, igmpType, which nfgen never
# makes) is added 1 s into the capture: its template must then be re-sent by
# the timer alone, with no data of its own.
log "nfgen: 100000 packets, 10000 live flows, seed 300; plus one IGMP packet"
nsh_run "$nfgen" --out "$WORKDIR/nfgen.pcap" --expected "$WORKDIR/expected.csv" --packets 100000 --flows 10000 \
    --seed 300 >"$WORKDIR/nfgen.out"
cat "$WORKDIR/nfgen.out" >&2
first_us=$(sed -n 's/.*first_ts_us=\([0-9]*\).*/\1/p' "$WORKDIR/nfgen.out")
python3 - "$WORKDIR/igmp.pcap" $((first_us + 1000000)) <<'EOF'
import struct, sys
def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
igmp = bytearray(struct.pack("!BBH4s", 0x16, 0, 0, bytes([239, 1, 2, 3])))  # IGMPv2 membership report
igmp[2:4] = struct.pack("!H", checksum(bytes(igmp)))
ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(igmp), 1, 0, 1, 2, 0,
                           bytes([10, 99, 0, 1]), bytes([224, 0, 0, 22])))
ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
frame = bytes.fromhex("01005e000016" "020000000001" "0800") + bytes(ip) + bytes(igmp)
frame += bytes(60 - len(frame))  # Ethernet minimum, as captured
ts = int(sys.argv[2])
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    f.write(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(frame), len(frame)) + frame)
EOF
input="$WORKDIR/input.pcap"
mergecap -F pcap -w "$input" "$WORKDIR/nfgen.pcap" "$WORKDIR/igmp.pcap"

# late_point_reached FIELDS_OUT PORT PROTOCOL SECONDS: the full capture's
# tshark (-T fields: dstport, length, v9 sysUpTime, IPFIX export time) has
# shown a message exported SECONDS or more into the capture.
late_point_reached() {
    awk -F '\t' -v port="$2" -v proto="$3" -v after="$4" '
        $1 != port { next }
        proto == 9 && $3 != "" && $3 + 0 >= after { found = 1; exit }
        proto == 10 && $4 != "" { if (base == "") base = $4; if ($4 - base >= after) { found = 1; exit } }
        END { exit !found }' "$1"
}

# Background processes of the current run_late, stopped when it fails early
# (the EXIT trap would stop them too, but only at the very end).
RUN_PIDS=()
track() { NSH_PIDS+=("$1"); RUN_PIDS+=("$1"); }

# ... or the process PID is gone (then there is nothing to wait for).
late_point_or_exit() { # FIELDS_OUT PORT PROTOCOL SECONDS PID
    late_point_reached "$1" "$2" "$3" "$4" || ! kill -0 "$5" 2>/dev/null
}

# run_late LABEL PROTOCOL TIMEOUT_RATE EXPORT_RATE LATE_AFTER [--expect-stale]
run_late() {
    local rc=0 pid
    RUN_PIDS=()
    run_late_once "$@" || rc=$?
    if [[ $rc != 0 ]]; then
        for pid in "${RUN_PIDS[@]}"; do
            # Only pids not yet reaped (still tracked): a reaped pid may be reused.
            [[ " ${NSH_PIDS[*]} " == *" $pid "* ]] || continue
            nsh_kill_tree TERM "$pid"
            wait "$pid" 2>/dev/null || true
            nsh_forget "$pid"
        done
    fi
    return "$rc"
}

run_late_once() {
    local label=$1 protocol=$2 timeout_rate=$3 export_rate=$4 late_after=$5 mode=${6:-}
    local dir="$WORKDIR/$label" port probe late_probe netflowd_pid full_pid late_pid rc=0
    mkdir -p "$dir"
    port=$(free_udp_port)
    probe=$(other_free_udp_port "$port")
    late_probe=$(other_free_udp_port "$probe")
    [[ $late_probe != "$port" ]] || late_probe=$(other_free_udp_port "$port")

    start_udp_sink "$port" || return 1
    RUN_PIDS+=("$SINK_PID")
    # The whole export, from the start; fields on stdout for late_point_reached.
    tshark -n -l -P -i lo -B 64 -f "udp and host 127.0.0.1 and (port $port or port $probe)" \
        -d "udp.port==$port,cflow" -w "$dir/full.pcapng" \
        -T fields -e udp.dstport -e udp.length -e cflow.sysuptime -e cflow.exporttime \
        >"$dir/full.out" 2>"$dir/full.log" &
    full_pid=$!
    track "$full_pid"
    nsh_wait_until 30 "tshark (whole export) start" tshark_ready "$dir/full.log" || { cat "$dir/full.log" >&2; return 1; }
    wait_for_probe "$dir" "$probe" start "$dir/full.out" || return 1

    log "[$label] netflowd protocol=$protocol timeout_rate=$timeout_rate refresh_rate=1000000 export_rate=$export_rate"
    timeout 120 "$netflowd" --read "$input" "destination=127.0.0.1:$port" "protocol=$protocol" \
        active_timeout=$ACTIVE_TIMEOUT inactive_timeout=$INACTIVE_TIMEOUT export_rate="$export_rate" \
        timeout_rate="$timeout_rate" refresh_rate=1000000 2>"$dir/netflowd.err" &
    netflowd_pid=$!
    track "$netflowd_pid"

    nsh_wait_until 60 "an export time $late_after s into the capture" \
        late_point_or_exit "$dir/full.out" "$port" "$protocol" "$late_after" "$netflowd_pid" || return 1
    if ! kill -0 "$netflowd_pid" 2>/dev/null; then
        wait "$netflowd_pid" || rc=$?
        nsh_forget "$netflowd_pid"
        if [[ $rc != 0 ]]; then
            echo "FAIL [$label]: netflowd exited with status $rc" >&2
            cat "$dir/netflowd.err" >&2
            return 1
        fi
        echo "[$label] netflowd finished before the late start" >&2
        return 3
    fi
    log "[$label] export time passed $late_after s: starting the late collector (tshark)"
    tshark -n -l -P -i lo -B 64 -f "udp and host 127.0.0.1 and (port $port or port $late_probe)" \
        -w "$dir/late.pcapng" >"$dir/late.out" 2>"$dir/late.log" &
    late_pid=$!
    track "$late_pid"
    nsh_wait_until 30 "late tshark start" tshark_ready "$dir/late.log" || { cat "$dir/late.log" >&2; return 1; }
    wait_for_probe "$dir" "$late_probe" start "$dir/late.out" || return 1
    log "[$label] late collector live"
    kill -0 "$netflowd_pid" 2>/dev/null || log "[$label] netflowd already finished (the checker will say if that is too late)"

    wait "$netflowd_pid" || rc=$?
    nsh_forget "$netflowd_pid"
    tail -n 2 "$dir/netflowd.err" >&2
    wait_for_probe "$dir" "$probe" end-of-run "$dir/full.out" || true
    wait_for_probe "$dir" "$late_probe" end-of-run "$dir/late.out" || true
    kill -TERM "$full_pid" "$late_pid" "$SINK_PID" 2>/dev/null || true
    wait "$full_pid" || log "tshark exited with $?"
    wait "$late_pid" || log "tshark exited with $?"
    wait "$SINK_PID" 2>/dev/null || true
    nsh_forget "$full_pid"
    nsh_forget "$late_pid"
    nsh_forget "$SINK_PID"
    if [[ $rc != 0 ]]; then
        echo "FAIL [$label]: netflowd exited with status $rc" >&2
        cat "$dir/netflowd.err" >&2
        return 1
    fi

    local replay=()
    if [[ $mode != --expect-stale ]]; then
        # The late capture's datagrams, in order, into a fresh nfcapd.
        local nfcapd_port nfcapd_pid
        nfcapd_port=$(other_free_udp_port "$port")
        mkdir -p "$dir/flows"
        nfcapd -w "$dir/flows" -b 127.0.0.1 -p "$nfcapd_port" -B 16777216 -t 3600 -I late \
            >"$dir/nfcapd.log" 2>&1 &
        nfcapd_pid=$!
        track "$nfcapd_pid"
        nsh_wait_until 10 "nfcapd on 127.0.0.1:$nfcapd_port" nfcapd_ready "$nfcapd_port" || return 1
        nsh_run python3 "$INTEGRATION_DIR/replay_udp.py" "$dir/late.pcapng" "$port" "127.0.0.1:$nfcapd_port" || return 1
        nsh_wait_until 30 "nfcapd to drain its socket" queue_empty "$nfcapd_port" || true
        kill -TERM "$nfcapd_pid" 2>/dev/null || true
        wait "$nfcapd_pid" || log "nfcapd exited with $?"
        nsh_forget "$nfcapd_pid"
        replay=(--flows-dir "$dir/flows" --nfcapd-log "$dir/nfcapd.log")
    fi

    nsh_run python3 "$INTEGRATION_DIR/late_collector.py" --label "$label" --protocol "$protocol" \
        --full "$dir/full.pcapng" --late "$dir/late.pcapng" --port "$port" --timeout-rate "$timeout_rate" \
        --netflowd-stderr "$dir/netflowd.err" "${replay[@]}" ${mode:+"$mode"}
}

# run_late_retry LABEL PROTOCOL TIMEOUT_RATE EXPORT_RATE [--expect-stale]: a
# run whose late start missed the needed time span (checker exit status 3:
# the late tshark came up too slowly, say on a loaded machine) is repeated
# once at half the export rate, i.e. with twice the wall time per capture second.
run_late_retry() {
    local label=$1 protocol=$2 timeout_rate=$3 export_rate=$4 mode=${5:-} rc=0
    run_late "$label" "$protocol" "$timeout_rate" "$export_rate" "$LATE_AFTER" ${mode:+"$mode"} || rc=$?
    if [[ $rc == 3 ]]; then
        log "[$label] late start out of range; once more at export_rate=$((export_rate / 2))"
        rc=0
        run_late "$label-retry" "$protocol" "$timeout_rate" $((export_rate / 2)) "$LATE_AFTER" ${mode:+"$mode"} || rc=$?
    fi
    return "$rc"
}

failed=()
for protocol in "${protocols[@]}"; do
    case $protocol in
        9) name=v9 ;;
        10) name=ipfix ;;
        *) echo "unknown protocol: $protocol" >&2; exit 2 ;;
    esac
    run_late_retry "$name-timeout_rate1" "$protocol" 1 "$LATE_EXPORT_RATE" || failed+=("$name")
    # Self-check: without time-based refresh the same checks must find stale data.
    run_late_retry "$name-timeout_rate0-self-check" "$protocol" 0 "$SELF_CHECK_EXPORT_RATE" --expect-stale ||
        failed+=("$name self-check")
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "late collector: all passed (${protocols[*]})"
