# Network-namespace test plumbing shared by tests/lab (lab.sh) and tests/control (lib.sh);
# sourced, not run.
# shellcheck shell=bash
#
# It owns what must never outlive a test: background processes (tracked, stopped children
# first), the namespaces the test created (their processes stopped, then the namespaces
# deleted, which removes veths, addresses, routes and iptables/nftables rules with them), the
# scratch directory, host sysctls the test had to change, and a watchdog that ends the test
# before ctest's timeout would SIGKILL it (no cleanup then). Namespaces are named
# FAMILY-PID-ROLE; those of a run killed with SIGKILL (no trap ran) are removed by the next
# run once PID is gone.
#
# The including harness sets NSH_NAME (label in messages), NSH_FAMILY (e.g. nflab),
# NSH_ROLES (e.g. "client|router|server"), NSH_DEADLINE (seconds) and NSH_KEEP (1: keep
# the scratch directory; fail: keep it when the test failed), then calls nsh_init TAG.

PATH=$PATH:/usr/sbin:/sbin # ip, iptables, nft, sysctl when run by a non-login shell
NSH_ID=$$
NSH_PREFIX="$NSH_FAMILY-$NSH_ID"
NSH_PIDS=()
NSH_NAMESPACES=()
NSH_RESTORE_SYSCTLS=() # KEY=VALUE, restored in the host namespace by nsh_cleanup
NSH_WORK=""
NSH_LAST_PID=""

nsh_log() { printf '[%s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

nsh_kill_tree() { # SIG PID: children first (tshark runs dumpcap, which must not outlive it)
    local sig=$1 pid=$2 child
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        nsh_kill_tree "$sig" "$child"
    done
    kill "-$sig" "$pid" 2>/dev/null || true
}

nsh_forget() { # PID: no longer tracked
    local keep=() pid
    for pid in "${NSH_PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    NSH_PIDS=("${keep[@]}")
}

# Stops and deletes one namespace: its processes (ours by construction) first.
nsh_remove_namespace() {
    local ns=$1 pid
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 30); do
        [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break
        sleep 0.1
    done
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
}

nsh_add_namespace() { # NAME: created, tracked, loopback up
    ip netns add "$1"
    NSH_NAMESPACES+=("$1")
    ip -n "$1" link set lo up
}

# netflowd sends a run of export datagrams in one system call (export_gso). With UDP
# segmentation offload on, lo passes the run on as one large packet and only the receiving
# socket cuts it, so a capture on lo would show that packet. Off, the kernel cuts the run
# before lo, as it does before a network card without the offload: a capture on lo then
# shows each datagram as a collector receives it.
nsh_capture_lo_datagrams() { # NS
    ip netns exec "$1" ethtool -K lo tx-udp-segmentation off
}

nsh_cleanup() {
    local rc=$? pid ns kv
    trap - EXIT INT TERM
    for pid in "${NSH_PIDS[@]}"; do nsh_kill_tree TERM "$pid"; done
    for pid in "${NSH_PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        nsh_kill_tree KILL "$pid"
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${NSH_NAMESPACES[@]}"; do nsh_remove_namespace "$ns"; done
    for kv in "${NSH_RESTORE_SYSCTLS[@]}"; do sysctl -qw "$kv" || true; done
    if [[ -n $NSH_WORK ]]; then
        if [[ ${NSH_KEEP:-0} == 1 || ($rc != 0 && ${NSH_KEEP:-0} == fail) ]]; then
            nsh_log "kept $NSH_WORK"
        else
            rm -rf "$NSH_WORK"
        fi
    fi
    exit "$rc"
}

# Removes namespaces of earlier runs killed without a chance to clean up.
nsh_sweep_stale() {
    local ns owner
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$NSH_FAMILY-[0-9]+-($NSH_ROLES)\$" || true); do
        owner=${ns#"$NSH_FAMILY"-}
        owner=${owner%%-*}
        if ! kill -0 "$owner" 2>/dev/null; then
            nsh_log "removing stale namespace $ns (its test process $owner is gone)"
            nsh_remove_namespace "$ns"
        fi
    done
}

# Exit status 77 = skipped for ctest (SKIP_RETURN_CODE).
nsh_require_root_and_tools() { # TOOL...
    local tool
    if [[ $(id -u) != 0 ]]; then
        echo "SKIP: $NSH_NAME needs root (network namespaces)" >&2
        exit 77
    fi
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "SKIP: missing tool: $tool" >&2; exit 77; }
    done
}

nsh_init() { # TAG: scratch directory netflowd-TAG.XXXXXX, traps, watchdog
    NSH_WORK=$(mktemp -d "${TMPDIR:-/tmp}/netflowd-$1.XXXXXX")
    trap nsh_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    (
        sleep "$NSH_DEADLINE"
        echo "$NSH_NAME: deadline of $NSH_DEADLINE s reached, aborting" >&2
        kill -TERM "$NSH_ID"
    ) &
    NSH_PIDS+=("$!")
    nsh_sweep_stale
    nsh_log "scratch directory $NSH_WORK, namespaces $NSH_PREFIX-*"
}

# Runs a command as a tracked background job and waits for it, so that a signal interrupts
# the wait (bash runs traps only between commands) and the cleanup stops the command too.
# Returns the command's status.
nsh_run() {
    local pid rc=0
    "$@" &
    pid=$!
    NSH_PIDS+=("$pid")
    wait "$pid" || rc=$?
    nsh_forget "$pid"
    return "$rc"
}

# nsh_bg_in NAMESPACE COMMAND...: a tracked background command in a namespace; its pid (the
# command's own: ip netns exec execs it) in NSH_LAST_PID.
nsh_bg_in() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" &
    NSH_LAST_PID=$!
    NSH_PIDS+=("$NSH_LAST_PID")
}

nsh_wait_until() { # TIMEOUT_SECONDS DESCRIPTION COMMAND...
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

# Collectors listen on 127.0.0.1 inside the router namespace (in_router: the harness's).
nsh_udp_queue() { # PORT: receive queue of the socket bound to 127.0.0.1:PORT in the router
    in_router ss -Hlun "sport = :$1" 2>/dev/null | awk -v want="127.0.0.1:$1" '$4 == want { print $2 }'
}
nsh_bound() { [[ -n $(nsh_udp_queue "$1") ]]; }
nsh_drained() { [[ $(nsh_udp_queue "$1") == 0 ]]; }
