#!/usr/bin/env bash
# Live benchmark: the most packets per second trafgen can push through a veth pair into
# (a) an NFLOG rule and (b) an AF_PACKET ring, read by netflowd (workers=1 and 2) and by
# do-nothing readers of the same sources (nullreaders.cpp), with every drop counter read and
# the consumer's CPU time per packet. Not part of the test suite (only --smoke is, as ctest
# bench.live_smoke). See docs/performance.md, "Live capture (NFLOG and AF_PACKET)".
#
#   bench/live/run.sh            full run (~7 min): 3 alternating rounds of 10 s per consumer,
#                                and stall runs; rewrites the live block of docs/performance.md
#   bench/live/run.sh --quick    1 round of 3 s per consumer (~1 min); results in
#                                build/bench-live/results-quick.md (add --doc FILE for the doc)
#   bench/live/run.sh --smoke    each consumer once for 0.3 s at 20,000 packets/s (stall runs:
#                                1.2 s as fast as trafgen can); asserts only that the harness
#                                works and the accounting adds up; ~25 s; exit 77 (skip)
#                                without root, trafgen or network namespaces
#
# Options: --rounds N, --duration SECONDS, --rate PPS (limit trafgen with -b, which sends each
# second's packets in a burst; default: as fast as it can), --doc FILE / --no-doc, --results
# FILE, --work DIR (default build/bench-live), --only TEXT (run only the consumers whose
# "source kind workers variant" line contains TEXT, e.g. "afpacket netflowd 1"; for profiling),
# --flows 256 (one source address instead of 256 random ones: a flow table that fits in the
# CPU's caches, to tell cache misses from the rest; default 65536),
# --netflowd PATH --netflowctl PATH (default: build both in build/release), --label TEXT (what
# the report says netflowd was built from; default: `git describe --dirty` of this tree).
# Needs: root, iproute2, iptables, trafgen (Debian package netsniff-ng), ss, python3, g++,
# libmnl-dev.
#
# Topology (two namespaces created here, removed on every exit path; nothing is added to the
# caller's namespace, and traffic only flows between addresses inside these namespaces):
#
#   nfbench-PID-gen   g0 10.78.0.1/24, 10.78.1.0/24 local   ---veth---   m0 10.78.0.2/24  nfbench-PID-meter
#   trafgen on g0: UDP 10.78.1.x:sport -> 10.78.0.2:9          raw PREROUTING: [-j NFLOG] ; -j DROP
#                                                              consumer in the meter namespace
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PATH=$PATH:/usr/sbin:/sbin

mode=full rounds="" duration="" rate="" doc=default results="" work="" netflowd="" netflowctl="" label="" only="" flows=65536
while [ $# -gt 0 ]; do
  case $1 in
    --quick) mode=quick ;;
    --smoke) mode=smoke ;;
    --full) mode=full ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --rate) rate=$2; shift ;;
    --doc) doc=$2; shift ;;
    --no-doc) doc="" ;;
    --results) results=$2; shift ;;
    --work) work=$2; shift ;;
    --netflowd) netflowd=$2; shift ;;
    --netflowctl) netflowctl=$2; shift ;;
    --label) label=$2; shift ;;
    --only) only=$2; shift ;;
    --flows) flows=$2; shift ;;
    -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
# settle: after the consumer is ready; drain: after the traffic, for the consumer to empty its
# socket or ring. The "stall" runs send as fast as trafgen can for stall_duration seconds and
# stop the consumer (SIGSTOP) for the last `stall` of them: longer than the 32 MiB socket buffer
# or ring can absorb, so the kernel must drop.
case $mode in
  full) rounds=${rounds:-3} duration=${duration:-10} settle=0.3 drain=1 ;;
  quick) rounds=${rounds:-1} duration=${duration:-3} settle=0.3 drain=1 ;;
  smoke) rounds=${rounds:-1} duration=${duration:-0.3} rate=${rate:-20000} settle=0.05 drain=0.15 ;;
esac
stall=1.5 stall_duration=$duration
[ "$mode" = smoke ] && stall=1.1 stall_duration=1.2
work=${work:-$ROOT/build/bench-live}
if [ "$doc" = default ]; then
  if [ "$mode" = full ]; then doc=$ROOT/docs/performance.md; else doc=""; fi
fi
[ -z "$results" ] && [ "$mode" != full ] && results=$work/results-$mode.md

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# ---- requirements (exit 77: ctest reports "skipped") ----------------------------------------
[ "$(id -u)" = 0 ] || skip "the live benchmark needs root (network namespaces, NFLOG, AF_PACKET)"
command -v trafgen >/dev/null 2>&1 || skip "trafgen missing (apt-get install netsniff-ng)"
for t in ip iptables ss python3 g++ timeout; do
  command -v "$t" >/dev/null 2>&1 || skip "missing tool: $t"
done
[ -e /usr/include/libmnl/libmnl.h ] || skip "libmnl headers missing (apt-get install libmnl-dev)"
# The interpreter itself, resolved once: a version-manager shim costs ~0.1 s per start, and the
# probes below run several times per run.
PY=$(python3 -c 'import sys; print(sys.executable)')

if [ -z "$netflowd" ] || [ -z "$netflowctl" ]; then
  log "building netflowd and netflowctl (build/release)"
  cmake -S "$ROOT" -B "$ROOT/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$ROOT/build/release" netflowd netflowctl >/dev/null
  netflowd=${netflowd:-$ROOT/build/release/src/app/netflowd}
  netflowctl=${netflowctl:-$ROOT/build/release/src/app/netflowctl}
fi
netflowd=$(realpath "$netflowd")
netflowctl=$(realpath "$netflowctl")

# The do-nothing readers: compiled here, not by CMake, like bench/peers' helpers.
bin=$work/bin
mkdir -p "$bin"
if [ ! -x "$bin/nullreaders" ] || [ "$HERE/nullreaders.cpp" -nt "$bin/nullreaders" ]; then
  g++ -O2 -std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion \
    -o "$bin/nullreaders.tmp" "$HERE/nullreaders.cpp" -lmnl -pthread
  mv "$bin/nullreaders.tmp" "$bin/nullreaders"
fi

# ---- namespaces, processes, teardown --------------------------------------------------------
# The project's namespace harness (also used by tests/lab and tests/control): tracked processes
# stopped children first, our namespaces removed on every exit path (trap), a watchdog, and
# namespaces of runs killed with SIGKILL (nfbench-PID-gen|meter whose PID is gone) removed.
NSH_NAME="bench/live" NSH_FAMILY=nfbench NSH_ROLES="gen|meter" NSH_KEEP=0
# Before ctest's 120-s timeout for the smoke; generous for the others (about 15 s per run).
whole_seconds=${duration%.*}
NSH_DEADLINE=$([ "$mode" = smoke ] && echo 100 || echo $((rounds * 11 * (${whole_seconds:-0} + 15) + 300)))
# shellcheck source=SCRIPTDIR/../../tests/netns_lib.sh
source "$ROOT/tests/netns_lib.sh"
nsh_init bench-live
NS_GEN="$NSH_PREFIX-gen"
NS_METER="$NSH_PREFIX-meter"
GROUP=7        # NFLOG group (instances are per network namespace)
GROUP2=8       # the second group of source nflog2 (two groups, split by flow)
SINK_PORT=9995 # netflowd exports to a bound UDP socket on the meter's 127.0.0.1, never read
GEN_ADDR=10.78.0.1 METER_ADDR=10.78.0.2 SRC_NET=10.78.1.0/24

nsh_add_namespace "$NS_GEN" 2>/dev/null || skip "cannot create network namespaces"
nsh_add_namespace "$NS_METER"
for ns in "$NS_GEN" "$NS_METER"; do
  # Before the veths exist, so they inherit it: no IPv6 (no MLD or DAD frames on the link, so
  # the AF_PACKET consumers see only the generator's frames).
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$NS_GEN" link add g0 type veth peer name m0 netns "$NS_METER"
ip -n "$NS_GEN" addr add "$GEN_ADDR/24" dev g0
ip -n "$NS_METER" addr add "$METER_ADDR/24" dev m0
ip -n "$NS_GEN" link set g0 up
ip -n "$NS_METER" link set m0 up
# The generator's source addresses belong to its namespace.
ip -n "$NS_GEN" route add local "$SRC_NET" dev lo
mac() { ip -n "$1" link show dev "$2" | awk '$1 == "link/ether" { print $2 }'; }
hexmac() { echo "$1" | sed 's/^/0x/; s/:/, 0x/g'; }
in_gen() { ip netns exec "$NS_GEN" "$@"; }
in_meter() { ip netns exec "$NS_METER" "$@"; }

runs=$work/runs-$mode
rm -rf "$runs"
mkdir -p "$runs"
: >"$work/empty.conf"

# 60-byte frames (64 on a wire), IPv4 UDP from 10.78.1.R:9984+P to 10.78.0.2:9, R random per
# packet, P counting 0..255: 65,536 flows (--flows 256: R = 1). No UDP checksum (0 is allowed for IPv4); the IPv4
# header checksum is computed per packet (the kernel drops bad ones before netfilter).
case $flows in
  65536) FLOWS=65,536 source_octet="drnd()" ;;
  256) FLOWS=256 source_octet=1 ;;
  *) echo "run.sh: --flows must be 65536 or 256" >&2; exit 2 ;;
esac
cat >"$work/trafgen.cfg" <<EOF
{
  $(hexmac "$(mac "$NS_METER" m0)"), $(hexmac "$(mac "$NS_GEN" g0)"), 0x08, 0x00,
  0x45, 0x00, const16(46), const16(0), 0x40, 0x00, 64, 17, csumip(14, 33),
  10, 78, 1, $source_octet,
  10, 78, 0, 2,
  0x27, dinc(0, 255), const16(9), const16(26), const16(0),
  fill(0x00, 18)
}
EOF

# The export sink: bound, never read; once its buffer is full the kernel discards quietly.
ip netns exec "$NS_METER" "$PY" -c '
import signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
signal.pause()' "$SINK_PORT" &
NSH_PIDS+=("$!")

rules() { # SOURCE: raw PREROUTING, so the packets are dropped before conntrack and routing
  in_meter iptables -t raw -F PREROUTING
  [ "$1" = nflog ] && in_meter iptables -t raw -A PREROUTING -i m0 -j NFLOG --nflog-group "$GROUP"
  if [ "$1" = nflog2 ]; then
    # Two groups, each flow in one of them: HMARK marks a packet 1 or 2 by a hash of its
    # addresses, ports and protocol, and each mark has its NFLOG rule (netflowd nflog_split=1).
    in_meter iptables -t raw -A PREROUTING -i m0 -j HMARK --hmark-tuple src,dst,sport,dport,proto \
      --hmark-mod 2 --hmark-offset 1 --hmark-rnd 0x5
    in_meter iptables -t raw -A PREROUTING -i m0 -m mark --mark 1 -j NFLOG --nflog-group "$GROUP"
    in_meter iptables -t raw -A PREROUTING -i m0 -m mark --mark 2 -j NFLOG --nflog-group "$GROUP2"
  fi
  in_meter iptables -t raw -A PREROUTING -i m0 -j DROP
}
rule_counter() { # packets of the first rule (NFLOG, HMARK, or DROP for AF_PACKET)
  in_meter iptables -t raw -L PREROUTING -v -x -n | awk 'NR == 3 { print $1 }'
}
stat_of() { in_meter cat "/sys/class/net/$1/statistics/$2"; }
softnet_dropped() { # host-wide: the backlog queue overflows (second column, per CPU, hex)
  local sum=0 d
  while read -r _ d _; do sum=$((sum + 16#$d)); done </proc/net/softnet_stat
  echo "$sum"
}
cpu_of() { "$PY" "$HERE/live.py" cpu "$1"; }
wakeups_of() { "$PY" "$HERE/live.py" wakeups "$1"; }
now() { date +%s.%N; }

control_answers() { in_meter "$netflowctl" --control "$1/ctl.sock" stat >/dev/null 2>&1; }
snapshots_more_than() { [ "$(grep -c '^nullreader: snapshot' "$1/stdout" || true)" -gt "$2" ]; }
# consumer_read PID KIND DIR: packets the consumer has read so far.
consumer_read() {
  if [ "$2" = null ]; then
    local lines
    lines=$(grep -c '^nullreader: snapshot' "$3/stdout" || true)
    kill -USR1 "$1"
    nsh_wait_until 5 "the reader's snapshot" snapshots_more_than "$3" "$lines"
    grep '^nullreader: snapshot' "$3/stdout" | tail -1 | sed 's/.* packets=\([0-9]*\).*/\1/'
  else
    in_meter "$netflowctl" --control "$3/ctl.sock" stat --json | grep -o '"observed":[0-9]*' | cut -d: -f2
  fi
}

# trafgen [ARGS]: one process pinned to CPU 0 (-P 1), in the generator namespace.
trafgen_args=(--no-sock-mem -o g0 -i "$work/trafgen.cfg" -P 1)

# run_one SOURCE KIND WORKERS VARIANT ROUND: one consumer, one window of traffic. VARIANT
# "stall" stops the consumer for the last $stall s of the window (and 0.2 s beyond), so that the
# kernel must drop: every drop counter is then exercised, at the end of the traffic too.
run_one() {
  local source=$1 kind=$2 workers=$3 variant=$4 round=$5
  local dir="$runs/$source-$kind-w$workers-$variant-r$round" pid rc=0 t0 t1 cpu0 cpu1 wake0 wake1 tg_rc=0 staller=""
  local window=$duration limit=()
  [ -n "$rate" ] && limit=(-b "${rate}pps")
  [ "$variant" = stall ] && window=$stall_duration limit=()
  mkdir -p "$dir"
  rules "$source"
  # Started with `ip netns exec`, not a shell function, so that $! is the consumer itself
  # (ip execs it): its CPU clock is read and signals are sent to that pid.
  case $source/$kind in
    nflog/null) ip netns exec "$NS_METER" "$bin/nullreaders" nflog "$GROUP" >"$dir/stdout" 2>"$dir/stderr" & ;;
    afpacket/null) ip netns exec "$NS_METER" "$bin/nullreaders" afpacket m0 "$workers" >"$dir/stdout" 2>"$dir/stderr" & ;;
    */netflowd)
      local src_args=(--nflog "$GROUP")
      [ "$source" = nflog2 ] && src_args=(--nflog "$GROUP,$GROUP2" nflog_split=1)
      [ "$source" = afpacket ] && src_args=(--interface m0 promisc=0)
      ip netns exec "$NS_METER" "$netflowd" "${src_args[@]}" --config "$work/empty.conf" --control "$dir/ctl.sock" \
        destination="127.0.0.1:$SINK_PORT" protocol=9 active_timeout=1800 inactive_timeout=15 \
        workers="$workers" >"$dir/stdout" 2>"$dir/stderr" &
      ;;
  esac
  pid=$!
  NSH_PIDS+=("$pid")
  if [ "$kind" = null ]; then
    nsh_wait_until 10 "the do-nothing reader" grep -q '^nullreader: ready' "$dir/stdout"
  else
    nsh_wait_until 10 "netflowd to bind its sources" grep -q 'started:' "$dir/stderr"
    nsh_wait_until 10 "netflowd's control socket" control_answers "$dir"
  fi
  kill -0 "$pid" 2>/dev/null || { echo "run.sh: consumer $dir exited early:" >&2; cat "$dir/stderr" >&2; return 1; }
  sleep "$settle"
  in_meter iptables -t raw -Z PREROUTING
  {
    echo "source=$source kind=$kind workers=$workers variant=$variant round=$round"
    echo "g0_txdrop_before=$(in_gen cat /sys/class/net/g0/statistics/tx_dropped)"
    echo "m0_rx_before=$(stat_of m0 rx_packets)"
    echo "softnet_before=$(softnet_dropped)"
  } >>"$dir/run.kv"
  cpu0=$(cpu_of "$pid")
  wake0=$(wakeups_of "$pid")
  t0=$(now)
  ip netns exec "$NS_GEN" timeout -s INT "$window" trafgen "${trafgen_args[@]}" "${limit[@]}" >"$dir/trafgen.out" 2>&1 &
  local tg=$!
  NSH_PIDS+=("$tg")
  if [ "$variant" = stall ]; then
    (
      sleep "$(awk -v d="$window" -v s="$stall" 'BEGIN { print (d > s ? d - s : 0) }')"
      kill -STOP "$pid"
      sleep "$(awk -v s="$stall" 'BEGIN { print s + 0.2 }')"
      kill -CONT "$pid"
    ) &
    staller=$!
    NSH_PIDS+=("$staller")
  fi
  wait "$tg" || tg_rc=$?
  nsh_forget "$tg"
  t1=$(now)
  if [ -n "$staller" ]; then
    wait "$staller" || true
    nsh_forget "$staller"
  fi
  # 124: timeout stopped it (the normal end); trafgen itself exits 0 on SIGINT.
  if [ "$tg_rc" != 0 ] && [ "$tg_rc" != 124 ]; then
    echo "run.sh: trafgen failed ($tg_rc):" >&2
    cat "$dir/trafgen.out" >&2
    return 1
  fi
  # The consumer empties its socket or ring (after a stall, or on a slow build, that can take
  # longer than $drain: wait until its count stops moving; netflowd would read for at most
  # 250 ms after SIGTERM).
  sleep "$drain"
  local before=-1 now_read
  for _ in $(seq 100); do
    now_read=$(consumer_read "$pid" "$kind" "$dir")
    [ "$now_read" = "$before" ] && break
    before=$now_read
    sleep 0.1
  done
  cpu1=$(cpu_of "$pid")
  wake1=$(wakeups_of "$pid")
  # Snapshot A: the rates and CPU time per packet.
  if [ "$kind" = null ]; then
    consumer_read "$pid" "$kind" "$dir" >/dev/null
  else
    in_meter "$netflowctl" --control "$dir/ctl.sock" stat --json >"$dir/stat-a.json"
  fi
  local rule_a
  rule_a=$(rule_counter)
  # The closing packet: NFLOG counts a lost batch only when a later packet's sequence number
  # shows the gap, so batches lost at the very end would otherwise stay invisible.
  in_gen trafgen "${trafgen_args[@]}" -n 1 >"$dir/closer.out" 2>&1 || true
  sleep "$(awk -v d="$drain" 'BEGIN { print d < 0.3 ? d : 0.3 }')"
  local drops
  drops=$("$PY" "$HERE/live.py" sockdrops "$NS_METER" "$pid")
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null && [ $waited -lt 1500 ]; do
    sleep 0.02
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: $dir: consumer still running 30 s after SIGTERM, killed" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" || rc=$?
  nsh_forget "$pid"
  {
    echo "t0=$t0 t1=$t1 cpu0=$cpu0 cpu1=$cpu1 wake0=$wake0 wake1=$wake1 rule_a=$rule_a rule_b=$(rule_counter) consumer_rc=$rc"
    echo "g0_txdrop_after=$(in_gen cat /sys/class/net/g0/statistics/tx_dropped)"
    echo "m0_rx_after=$(stat_of m0 rx_packets)"
    echo "softnet_after=$(softnet_dropped)"
    echo "$drops"
  } >>"$dir/run.kv"
}

# ---- the runs -------------------------------------------------------------------------------
consumers=("nflog null 1 plain" "nflog netflowd 1 plain" "nflog netflowd 2 plain" "nflog2 netflowd 2 plain"
  "afpacket null 1 plain"
  "afpacket null 2 plain" "afpacket netflowd 1 plain" "afpacket netflowd 2 plain"
  "nflog null 1 stall" "nflog netflowd 2 stall" "afpacket null 1 stall" "afpacket netflowd 2 stall")
if [ -n "$only" ]; then
  selected=()
  for c in "${consumers[@]}"; do [[ $c == *"$only"* ]] && selected+=("$c"); done
  [ ${#selected[@]} -gt 0 ] || { echo "run.sh: --only $only matches no consumer" >&2; exit 2; }
  consumers=("${selected[@]}")
fi
n=${#consumers[@]}
started=$(date +%s)
meta=$work/meta-$mode.kv
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M') UTC"
  echo "mode=$mode"
  echo "duration=$duration"
  echo "stall=$stall"
  echo "stall_duration=$stall_duration"
  echo "rate=$rate"
  echo "flows=$FLOWS"
  echo "tree=${label:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)}"
  echo "machine=$(nproc) vCPU $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "load_start=$(cut -d' ' -f1 /proc/loadavg)"
  echo "netflowd=$netflowd"
  echo "netflowd_version=$("$netflowd" --version 2>&1 | head -1)"
  echo "trafgen_version=$(trafgen --version 2>&1 | head -1 | awk '{ print $1, $2 }')"
} >"$meta"
log "$mode run: $rounds round(s) of $n consumers, ${duration} s each${rate:+ at $rate packets/s}; namespaces $NSH_PREFIX-*"
for ((round = 0; round < rounds; round++)); do
  for ((i = 0; i < n; i++)); do
    # Rotate the order from round to round (a drifting machine load then spreads evenly).
    read -r source kind workers variant <<<"${consumers[$(((i + round) % n))]}"
    log "round $((round + 1))/$rounds: $source, $kind, workers=$workers, $variant"
    run_one "$source" "$kind" "$workers" "$variant" "$round"
    sleep "$settle"
  done
done
{
  echo "load_end=$(cut -d' ' -f1 /proc/loadavg)"
  elapsed=$(($(date +%s) - started))
  echo "elapsed=$((elapsed / 60)) min $((elapsed % 60)) s"
} >>"$meta"

report_args=(--runs "$runs" --meta "$meta")
[ -n "$doc" ] && report_args+=(--doc "$doc")
[ -n "$results" ] && report_args+=(--results "$results")
[ "$mode" = smoke ] && report_args+=(--check)
"$PY" "$HERE/live.py" report "${report_args[@]}"
