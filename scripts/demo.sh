#!/usr/bin/env bash
# The main job of ./run.sh: replay a capture through netflowd into a local nfcapd (NetFlow v5)
# and show what the collector stored. Loopback only; cleans up after itself.
#   scripts/demo.sh NETFLOWD CAPTURE [name=value ...]
set -euo pipefail
netflowd=$1; capture=$2; shift 2

work=$(mktemp -d /tmp/netflowd-demo.XXXXXX)
collector_pid=
cleanup() {
  [ -n "$collector_pid" ] && kill "$collector_pid" 2>/dev/null && wait "$collector_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A free UDP port on 127.0.0.1, chosen by the kernel.
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/flows"
nfcapd -b 127.0.0.1 -p "$port" -w "$work/flows" -t 3600 >"$work/nfcapd.log" 2>&1 &
collector_pid=$!
for _ in $(seq 100); do
  ss -Hlun "sport = :$port" | grep -q . && break
  sleep 0.05
done

echo "== netflowd --read $capture destination=127.0.0.1:$port protocol=5 $*"
"$netflowd" --read "$capture" "destination=127.0.0.1:$port" protocol=5 "$@"

kill -TERM "$collector_pid"
wait "$collector_pid" || true
collector_pid=

echo
echo "== what nfcapd stored (nfdump, first 20 flows by bytes):"
nfdump -R "$work/flows" -O bytes -n 20 -o long
echo
echo "== nfdump totals:"
nfdump -R "$work/flows" -I | grep -E '^(Flows|Packets|Bytes)' || true
