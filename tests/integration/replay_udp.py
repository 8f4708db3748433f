#!/usr/bin/env python3
"""Sends the UDP payloads a capture holds for one destination port, in order,
to HOST:PORT (a collector fed exactly what another one captured).
usage: replay_udp.py CAPTURE PORT HOST:PORT [RATE (datagrams/s, default 5000)]"""
import socket
import sys
import time

from netflow_capture import run


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    capture, port, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rate = float(sys.argv[4]) if len(sys.argv) == 5 else 5000.0
    host, _, target_port = target.rpartition(":")
    out = run(["tshark", "-n", "-r", capture, "-Y", f"udp.dstport == {port}", "-T", "fields", "-e", "udp.payload"])
    payloads = [bytes.fromhex(line.replace(":", "")) for line in out.split() if line]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for n, payload in enumerate(payloads):
        sock.sendto(payload, (host, int(target_port)))
        ahead = n / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(f"replay_udp.py: sent {len(payloads)} datagrams to {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
