#!/usr/bin/env python3
"""UDP traffic with known per-flow totals for the control tests (stdlib only).

  udp --src A --dst B --sport P --dport Q [--flows K] --count N --size S [--size-step X]
      [--rate PPS] [--stop-file F]
      K flows (source ports P..P+K-1, default 1) of N datagrams each, interleaved (one
      datagram per flow per round), flow i carrying S + (i * X) % 512 payload bytes; at
      most PPS datagrams per second in total (0: unpaced). --stop-file: stop after the
      round during which F appeared (every flow then sent the same number).

Prints one JSON line per flow:
  {"src": A, "dst": B, "proto": 17, "sport": S, "dport": D, "packets": N, "bytes": B}
with bytes as netflowd counts them (IPv4 total length: 28 + payload).
"""
import argparse
import json
import os
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("udp")
    u.add_argument("--src", required=True)
    u.add_argument("--dst", required=True)
    u.add_argument("--sport", type=int, required=True)
    u.add_argument("--dport", type=int, required=True)
    u.add_argument("--flows", type=int, default=1)
    u.add_argument("--count", type=int, required=True)
    u.add_argument("--size", type=int, required=True)
    u.add_argument("--size-step", type=int, default=0)
    u.add_argument("--rate", type=float, default=0)
    u.add_argument("--stop-file")
    a = ap.parse_args()

    socks, sizes = [], []
    for i in range(a.flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.src, a.sport + i))
        s.connect((a.dst, a.dport))
        socks.append(s)
        sizes.append(a.size + (i * a.size_step) % 512)
    sent = [0] * a.flows
    start = time.monotonic()
    total = 0
    for _ in range(a.count):
        if a.stop_file and os.path.exists(a.stop_file):
            break
        for i, s in enumerate(socks):
            payload = bytes(sizes[i])
            # A datagram the kernel refuses (ENOBUFS) is sent again: the totals must be exact.
            for attempt in range(1000):
                try:
                    s.send(payload)
                    break
                except (BlockingIOError, OSError):
                    time.sleep(0.001)
            else:
                print("ctltraffic: could not send", file=sys.stderr)
                return 1
            sent[i] += 1
            total += 1
            if a.rate and total % 8 == 0:
                ahead = total / a.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    for i in range(a.flows):
        print(json.dumps({"src": a.src, "dst": a.dst, "proto": 17, "sport": a.sport + i, "dport": a.dport,
                          "packets": sent[i], "bytes": sent[i] * (28 + sizes[i])}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
