#!/usr/bin/env bash
# lab.physdev: physdev=1 on a bridge. Client and server share one subnet behind br0 (ports
# b0, b1) in the middle namespace; br_netfilter makes iptables/ip6tables FORWARD see the
# bridged packets, and three FORWARD NFLOG rules (groups G1, G2, G3: NFLOG does not
# terminate, so every packet reaches all three) feed three netflowd at the same time:
#   physdev   IPFIX, physdev=1, direction=1
#   physdev9  NetFlow v9, physdev=1, direction=1
#   nophys    IPFIX, physdev=0, direction=1
# Required, against the capture on b0/b1 (every test flow counted on the port it entered):
# exact per-flow packets/bytes (nfdump and tshark), ingress/egressInterface = br0,
# flowDirection 255, ingress/egressPhysicalInterface = the entry/exit port (physdev=1) or
# absent (physdev=0); every data template has 252 right after 10 and 253 right after 14
# (physdev=1) or neither (physdev=0); no malformed frames, drops or sequence errors.
# usage: physdev.sh NETFLOWD
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: $0 NETFLOWD" >&2; exit 2; }
NETFLOWD=$1
source "$(dirname "$0")/lab.sh"
lab_require iptables ip6tables bridge
lab_init
lab_setup_bridge
lab_start_sinks
lab_start_capture
PORT1=9995 PORT2=9996 PORT3=9997 G1=41 G2=42 G3=43
lab_start_collector physdev "$PORT1"
lab_start_collector physdev9 "$PORT2"
lab_start_collector nophys "$PORT3"
for g in "$G1" "$G2" "$G3"; do lab_iptables_nflog "$g" FORWARD; done
common=(direction=1 workers=2 active_timeout=600 inactive_timeout=300)
lab_start_netflowd physdev --nflog "$G1" "destination=127.0.0.1:$PORT1" protocol=10 physdev=1 "${common[@]}"
lab_start_netflowd physdev9 --nflog "$G2" "destination=127.0.0.1:$PORT2" protocol=9 physdev=1 "${common[@]}"
lab_start_netflowd nophys --nflog "$G3" "destination=127.0.0.1:$PORT3" protocol=10 physdev=0 "${common[@]}"
# Bridged both ways (client -> server enters at b0, server -> client at b1), IPv4 and IPv6.
for fam in 4 6; do
    if [[ $fam == 4 ]]; then c=$C4 s=$S4; else c=$C6 s=$S6; fi
    lab_traffic in_client udp --src "$c" --dst "$s" --sport 40001 --dport 5001 --count 7 --size 300
    lab_traffic in_client udp --src "$c" --dst "$s" --sport 40001 --dport 5001 --count 3 --size 50 --tos 0x20
    lab_traffic in_server udp --src "$s" --dst "$c" --sport 5002 --dport 40002 --count 5 --size 1000
    lab_traffic in_client ping --src "$c" --dst "$s" --count 5 --size 64
    lab_traffic in_server ping --src "$s" --dst "$c" --count 3 --size 200
    lab_traffic in_client tcp --src "$c" --dst "$s" --sport 41001 --dport 6001 --send 60000 --recv 30000
done
lab_settle
lab_stop_netflowd physdev
lab_stop_netflowd physdev9
lab_stop_netflowd nophys
lab_stop_capture
lab_stop_collector physdev "$PORT1"
lab_stop_collector physdev9 "$PORT2"
lab_stop_collector nophys "$PORT3"
rc=0
lab_check physdev physdev physdev physdev "$PORT1" --protocol 10 --physdev 1 "${LAB_PEER_MACS[@]}" || rc=1
lab_check physdev physdev9 physdev9 physdev9 "$PORT2" --protocol 9 --physdev 1 "${LAB_PEER_MACS[@]}" || rc=1
lab_check physdev nophys nophys nophys "$PORT3" --protocol 10 --physdev 0 "${LAB_PEER_MACS[@]}" || rc=1
exit "$rc"
