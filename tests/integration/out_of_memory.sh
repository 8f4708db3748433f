#!/usr/bin/env bash
# netflowd when the system refuses it memory (an address-space limit put on the running
# process with prlimit, as a small router or a container limit would):
#   1. at start: a hashsize whose flow index cannot be allocated ends netflowd with exit
#      status 1 and an error naming hashsize and the size, not an abort (it used to end on an
#      uncaught std::bad_alloc, exit 134);
#   2. on the packet path: with room for only part of nfgen's concurrent flows, netflowd reads
#      the whole capture, refuses the new flows it has no memory for and counts them (summary
#      alloc=, alloc_bytes=), and exports every flow it did take in. nfdump (nfcapd) is the
#      judge: per key, what it shows is at most nfgen's truth, and what is missing adds up
#      exactly to the packets and bytes netflowd counted as refused (check_refused.py).
# netflowd waits for the capture on a FIFO, so that the limit can be put on it after it
# started (AddressSanitizer, in the test build, cannot start under one) and before the flow
# tables are made.
# usage: out_of_memory.sh NETFLOWD NFGEN
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 NETFLOWD NFGEN" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
require_tools nfcapd nfdump tshark ss python3 prlimit
netflowd=$1 nfgen=$2
# The test build: a refused allocation returns nothing, as it does without the sanitizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1

log "nfgen: 600000 packets, 150000 live flows"
nsh_run "$nfgen" --out "$WORKDIR/input.pcap" --expected "$WORKDIR/expected.csv" --packets 600000 --flows 150000 \
    --seed 7 --linktype en10mb >"$WORKDIR/nfgen.out"
cat "$WORKDIR/nfgen.out" >&2

# start_limited NAME HEADROOM_MIB ARGS...: netflowd --read a FIFO with ARGS, in the background
# (NF_PID); once it waits for the FIFO's writer, its address space is limited to what it has
# mapped plus HEADROOM_MIB, and the capture is written into the FIFO.
start_limited() {
    local name=$1 headroom=$2 fifo="$WORKDIR/$1.fifo" vsz
    shift 2
    mkfifo "$fifo"
    "$netflowd" --read "$fifo" "$@" 2>"$WORKDIR/$name.err" &
    NF_PID=$!
    NSH_PIDS+=("$NF_PID")
    waiting() { [[ $(cat "/proc/$NF_PID/wchan" 2>/dev/null) == wait_for_partner ]]; }
    nsh_wait_until 30 "netflowd to open the FIFO" waiting || { cat "$WORKDIR/$name.err" >&2; return 1; }
    vsz=$(awk '/^VmSize/ { print $2 }' "/proc/$NF_PID/status")
    prlimit --pid "$NF_PID" --as=$(((vsz + headroom * 1024) * 1024))
    log "[$name] netflowd $*: address space limited to VmSize + $headroom MiB"
    cat "$WORKDIR/input.pcap" >"$fifo" 2>/dev/null || true # netflowd may stop reading (case 1)
}

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# ---------------------------------------------------------------- 1. at start
port=$(free_udp_port) # nothing is sent
start_limited start 64 "destination=127.0.0.1:$port" hashsize=1073741824
rc=0
wait "$NF_PID" || rc=$?
nsh_forget "$NF_PID"
want="hashsize=1073741824: not enough memory for a flow index of 4096 MiB"
if [[ $rc != 1 ]]; then
    fail "hashsize=2^30 under the limit: exit status $rc, expected 1: $(tail -c 400 "$WORKDIR/start.err")"
elif ! grep -qF "$want" "$WORKDIR/start.err"; then
    fail "hashsize=2^30 under the limit: stderr does not say '$want': $(tail -c 400 "$WORKDIR/start.err")"
else
    echo "ok   hashsize=2^30 under the limit -> exit 1: $(grep -F hashsize "$WORKDIR/start.err" | head -1)"
fi

# ---------------------------------------------------------------- 2. on the packet path
dir="$WORKDIR/refused"
port=$(free_udp_port)
start_collectors "$dir" "$port" || { kill_collectors; fail "collectors did not start"; exit 1; }
# With timeouts longer than the capture, all of nfgen's 172,180 flows stay in the cache: 6 slab
# chunks of 32,768 flows (2 MiB each, mapped with a spare huge page) and an index of 2^19
# slots. 16 MiB more than netflowd maps while it waits leaves room for about half of them
# (measured: 8 MiB, none; 28 MiB, all).
start_limited refused 16 "destination=127.0.0.1:$port" protocol=10 active_timeout=1800 \
    inactive_timeout=1800 export_rate=$EXPORT_RATE
rc=0
wait "$NF_PID" || rc=$?
nsh_forget "$NF_PID"
tail -n 2 "$WORKDIR/refused.err" >&2
stop_collectors "$dir" "$port"
if [[ $rc != 0 ]]; then
    fail "netflowd under the limit exited with status $rc: $(tail -c 600 "$WORKDIR/refused.err")"
else
    nsh_run python3 "$INTEGRATION_DIR/check_refused.py" --expected "$WORKDIR/expected.csv" \
        --nfgen-summary "$WORKDIR/nfgen.out" --netflowd-stderr "$WORKDIR/refused.err" --flows-dir "$dir/flows" ||
        fail "the refused flows do not account for what nfdump misses"
fi

if ((failures != 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "out_of_memory: all checks passed"
