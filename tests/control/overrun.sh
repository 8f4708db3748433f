#!/usr/bin/env bash
# control.overrun: packets the kernel could not deliver over NFLOG are counted exactly, and an
# overrun is visible at once. netflowd --nflog is stopped (SIGSTOP) while the client sends
# more packets than the netlink socket's buffer holds; after SIGCONT:
#   - stat shows overruns >= 1 (the kernel's ENOBUFS) as soon as netflowd has read the backlog,
#     even though the lost packets are not known yet (NFLOG tells them only by the sequence
#     number of a later packet);
#   - after one more packet, frames + kernel drops = the packets the NFLOG rule logged, exactly
#     (iptables' own counter), with kernel drops > 0; the text and JSON views agree;
#   - the Accounting line still adds up, and netflowd exits cleanly on SIGTERM.
# usage: overrun.sh NETFLOWD NETFLOWCTL
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 NETFLOWD NETFLOWCTL" >&2; exit 2; }
NETFLOWD=$1 NETFLOWCTL=$2
source "$(dirname "$0")/lib.sh"
ctl_require
ctl_init
ctl_setup
ctl_start_netflowd destination=127.0.0.1:9995 protocol=9

logged() { # packets the NFLOG rule logged
    in_router iptables -w -L INPUT -v -n -x | awk '/NFLOG/ { print $1; exit }'
}
blast() { # COUNT: UDP datagrams from the client to the router's dropped port range
    nsh_run in_client python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
dst = (sys.argv[1], 5500)
for i in range(int(sys.argv[2])):
    try:
        s.sendto(b"overrun", dst)
    except BlockingIOError:
        pass
' "$R4" "$1"
}

kill -STOP "$CTL_NETFLOWD_PID"
ctl_log "netflowd stopped; sending 1,500,000 datagrams"
blast 1500000
kill -CONT "$CTL_NETFLOWD_PID"
ctl_log "netflowd continued; $(logged) packets logged by the NFLOG rule"

frames_settled() {
    local a b
    a=$(jget 'j["sources"][0]["frames"]')
    sleep 0.5
    b=$(jget 'j["sources"][0]["frames"]')
    [[ $a == "$b" ]]
}
nsh_wait_until 30 "netflowd to read the backlog" frames_settled || ctl_error "netflowd kept reading"
read -r frames drops overruns < <(jget 'j["sources"][0]["frames"], j["sources"][0]["source_drops"], j["sources"][0]["source_overruns"]' | tr -d '(),')
ctl_log "after the backlog: frames $frames, kernel drops $drops, overruns $overruns"
((overruns >= 1)) || ctl_error "no overrun reported after the socket overflowed (frames $frames of $(logged))"
((frames < $(logged))) || ctl_error "nothing was lost: the test did not overflow the socket (raise the count)"

# One more packet: its sequence number tells how many were lost.
blast 1
all_known() { [[ $(jget 'j["sources"][0]["frames"] + j["sources"][0]["source_drops"]') == "$(logged)" ]]; }
nsh_wait_until 10 "frames + kernel drops to reach the rule's count" all_known ||
    ctl_error "frames + kernel drops != packets logged: $(jget 'j["sources"][0]') vs $(logged)"
read -r frames drops overruns < <(jget 'j["sources"][0]["frames"], j["sources"][0]["source_drops"], j["sources"][0]["source_overruns"]' | tr -d '(),')
ctl_log "after one more packet: frames $frames + kernel drops $drops = $(logged) logged, overruns $overruns"
((drops > 0)) || ctl_error "kernel drops stayed 0"
nfctl stat >"$NSH_WORK/stat.txt"
grep -qE "^source0: .*frames $frames, .*kernel drops $drops \(overruns $overruns\)," "$NSH_WORK/stat.txt" ||
    ctl_error "text stat disagrees with JSON: $(grep '^source0' "$NSH_WORK/stat.txt")"
accounting=$(grep '^Accounting:' "$NSH_WORK/stat.txt")
python3 - "$accounting" <<'EOF' || ctl_error "the Accounting line does not add up: $accounting"
import re, sys
line = sys.argv[1]
observed = int(re.search(r"observed (\d+)", line).group(1))
terms = [int(x) for x in re.findall(r"(?:= metered|\+ dropped|\+ own export|\+ [a-z ]+) (\d+)", line)]
sys.exit(0 if observed == sum(terms) else 1)
EOF
ctl_stop_netflowd
ctl_finish
