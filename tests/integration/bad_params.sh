#!/usr/bin/env bash
# Negative tests: netflowd must refuse bad parameters with exit status 2 and
# name the offending parameter on stderr. A baseline run with the same valid
# parameters (and an empty capture, so nothing is sent) must succeed, which
# shows the failures come from the bad parameter and not from the rest.
# usage: bad_params.sh NETFLOWD
set -euo pipefail
if [[ $# -ne 1 ]]; then
    echo "usage: $0 NETFLOWD" >&2
    exit 2
fi
source "$(dirname "$0")/lib.sh"
netflowd=$1

# An empty classic pcap (Ethernet): just the 24-byte file header, little endian.
empty_pcap="$WORKDIR/empty.pcap"
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x01\x00\x00\x00' >"$empty_pcap"
port=$(free_udp_port) # nobody listens there; nothing is sent anyway
good_destination="destination=127.0.0.1:$port"

failures=0
# expect_rc WANT_RC NAME_ON_STDERR ARGS...
expect_rc() {
    local want=$1 name=$2 rc=0
    shift 2
    nsh_run timeout 30 "$netflowd" --read "$empty_pcap" "$@" >"$WORKDIR/out" 2>"$WORKDIR/err" || rc=$?
    local args="$*"
    if [[ $rc != "$want" ]]; then
        echo "FAIL: netflowd $args: exit status $rc, expected $want; stderr: $(head -c 400 "$WORKDIR/err")"
        failures=$((failures + 1))
    elif [[ -n $name ]] && ! grep -qF -- "$name" "$WORKDIR/err"; then
        echo "FAIL: netflowd $args: stderr does not name '$name': $(head -c 400 "$WORKDIR/err")"
        failures=$((failures + 1))
    else
        echo "ok   netflowd $args -> $rc${name:+, names '$name'}: $(head -n 1 "$WORKDIR/err" | cut -c1-120)"
    fi
}

base=(protocol=5 active_timeout=60 inactive_timeout=15)
expect_rc 0 "" "$good_destination" "${base[@]}"
expect_rc 2 protocol "$good_destination" protocol=7 active_timeout=60 inactive_timeout=15
expect_rc 2 active_timeout "$good_destination" protocol=5 active_timeout=abc inactive_timeout=15
expect_rc 2 destination destination=300.1.1.1:2055 "${base[@]}"
expect_rc 2 destination 'destination=[::1' "${base[@]}"
expect_rc 2 nosuch "$good_destination" "${base[@]}" nosuch=1
expect_rc 2 maxflows "$good_destination" "${base[@]}" maxflows=-x
expect_rc 2 natevents "$good_destination" "${base[@]}" natevents=2
# NAT events come from conntrack: a capture file has none.
expect_rc 2 natevents "$good_destination" "${base[@]}" natevents=1

if [[ $failures -gt 0 ]]; then
    echo "$failures bad-parameter checks failed"
    exit 1
fi
echo "all bad-parameter checks passed"
