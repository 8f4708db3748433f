#!/usr/bin/env python3
"""Traffic for the lab with known per-flow packets and bytes (stdlib only).

Every sender prints one JSON line per flow it produced:
  {"family": 4|6, "src": A, "dst": B, "proto": P, "sport": S, "dport": D, "tos": T,
   "packets": N|null, "bytes": B|null, "what": "..."}
with the flow key as netflowd builds it (ICMP: sport 0, dport type*256+code) and the
totals as netflowd counts them (IPv4 total length; IPv6 payload length + 40), or null
when not known in advance (TCP: the ground truth is the capture).

  sink --udp ADDR,PORT ... --tcp ADDR,PORT ... --ready FILE
        UDP: receive and discard. TCP: read the first 8 bytes (how many bytes to send
        back), read until the client shuts down its side, send that many bytes, close.
  udp   --src A --dst B --sport P --dport Q --count N --size S [--tos T]
        [--flows K] [--rate PPS] [--size-step X] [--duration SEC --stop-file F]
        N datagrams of S payload bytes per flow; with --flows K, K flows with source
        ports P..P+K-1, interleaved (one datagram per flow per round), flow i sending
        S + (i * X) % 512 bytes. --duration: a stream for that long (or until the stop
        file appears) at --rate, datagram i carrying 16 + (i * 7919) % 1200 bytes; the
        flow line then reports the count sent and, per datagram, nothing else.
  tcp   --src A --sport P --dst B --dport Q --send N --recv M
  ping  --src A --dst B --count N --size S    (iputils ping, 10 ms interval)
  probe --dst A --port P --text T             one datagram (capture markers)
"""
import argparse
import ipaddress
import json
import os
import re
import resource
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time


def family_of(addr):
    return 6 if ipaddress.ip_address(addr).version == 6 else 4


def ip_overhead(family, proto_header):
    return (20 if family == 4 else 40) + proto_header


def emit(**flow):
    print(json.dumps(flow), flush=True)


def udp_socket(family, src, sport, tos):
    s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if tos:
        if family == 4:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.bind((src, sport))
    return s


class Pacer:
    """At most `rate` packets per second (0: unpaced), checked every few packets."""

    def __init__(self, rate):
        self.rate, self.sent, self.start = rate, 0, time.monotonic()

    def tick(self):
        self.sent += 1
        if self.rate and self.sent % 16 == 0:
            ahead = self.sent / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                time.sleep(ahead)


def send_all(sock, data, dst):
    # A full socket buffer (ENOBUFS/EAGAIN) must not lose a datagram silently.
    for _ in range(1000):
        try:
            sock.sendto(data, dst)
            return
        except (BlockingIOError, OSError) as e:
            if getattr(e, "errno", None) not in (105, 11):  # ENOBUFS, EAGAIN
                raise
            time.sleep(0.001)
    raise RuntimeError("could not send a datagram")


def cmd_udp(a):
    fam = family_of(a.dst)
    tos = int(a.tos, 0)
    pacer = Pacer(a.rate)
    if a.duration:
        s = udp_socket(fam, a.src, a.sport, tos)
        n = nbytes = 0
        deadline = time.monotonic() + a.duration
        while time.monotonic() < deadline and not (a.stop_file and os.path.exists(a.stop_file)):
            size = 16 + (n * 7919) % 1200
            send_all(s, struct.pack("!I", n).ljust(size, b"x"), (a.dst, a.dport))
            n += 1
            nbytes += size + ip_overhead(fam, 8)
            pacer.tick()
        emit(family=fam, src=a.src, dst=a.dst, proto=17, sport=a.sport, dport=a.dport, tos=tos, packets=n,
             bytes=nbytes, what="udp stream", sizes="16+(i*7919)%1200")
        return
    flows = a.flows
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = flows + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    socks = [udp_socket(fam, a.src, a.sport + i, tos) for i in range(flows)]
    sizes = [a.size + (i * a.size_step) % 512 for i in range(flows)]
    for rnd in range(a.count):
        for i, s in enumerate(socks):
            send_all(s, struct.pack("!II", i, rnd).ljust(sizes[i], b"u"), (a.dst, a.dport))
            pacer.tick()
    for i in range(flows):
        emit(family=fam, src=a.src, dst=a.dst, proto=17, sport=a.sport + i, dport=a.dport, tos=tos,
             packets=a.count, bytes=a.count * (sizes[i] + ip_overhead(fam, 8)), what="udp")


def recv_exactly_until_eof(conn):
    total = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return total
        total += len(chunk)


def cmd_tcp(a):
    fam = family_of(a.dst)
    s = socket.socket(socket.AF_INET6 if fam == 6 else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.src, a.sport))
    s.settimeout(20)
    s.connect((a.dst, a.dport))
    payload = struct.pack("!Q", a.recv) + b"t" * (a.send - 8)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    got = recv_exactly_until_eof(s)
    s.close()
    if got != a.recv:
        raise SystemExit(f"tcp: received {got} bytes, expected {a.recv}")
    for src, dst, sp, dp in ((a.src, a.dst, a.sport, a.dport), (a.dst, a.src, a.dport, a.sport)):
        emit(family=fam, src=src, dst=dst, proto=6, sport=sp, dport=dp, tos=0, packets=None, bytes=None,
             what=f"tcp {a.send} up / {a.recv} down")


def cmd_ping(a):
    fam = family_of(a.dst)
    cmd = ["ping", "-6" if fam == 6 else "-4", "-n", "-q", "-c", str(a.count), "-s", str(a.size), "-i", "0.01",
           "-W", "2", "-I", a.src, a.dst]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    if not m:
        raise SystemExit(f"ping: unexpected output: {out!r}")
    sent, received = int(m.group(1)), int(m.group(2))
    if sent != a.count or received != a.count:
        raise SystemExit(f"ping: {sent} sent, {received} received, {a.count} expected")
    size = a.size + ip_overhead(fam, 8)
    proto, request, reply = (1, 8, 0) if fam == 4 else (58, 128, 129)
    emit(family=fam, src=a.src, dst=a.dst, proto=proto, sport=0, dport=request << 8, tos=0, packets=sent,
         bytes=sent * size, what="echo request")
    emit(family=fam, src=a.dst, dst=a.src, proto=proto, sport=0, dport=reply << 8, tos=0, packets=received,
         bytes=received * size, what="echo reply")


def cmd_probe(a):
    fam = family_of(a.dst)
    s = socket.socket(socket.AF_INET6 if fam == 6 else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(a.text.encode(), (a.dst, a.port))
    except OSError:
        pass


def cmd_sink(a):
    sel = selectors.DefaultSelector()
    for spec in a.udp:
        addr, port = spec.rsplit(",", 1)
        s = socket.socket(socket.AF_INET6 if family_of(addr) == 6 else socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((addr, int(port)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "udp")
    for spec in a.tcp:
        addr, port = spec.rsplit(",", 1)
        s = socket.socket(socket.AF_INET6 if family_of(addr) == 6 else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.listen(16)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, "tcp")

    def serve(conn):
        try:
            conn.settimeout(30)
            head = b""
            while len(head) < 8:
                chunk = conn.recv(8 - len(head))
                if not chunk:
                    return
                head += chunk
            (reply,) = struct.unpack("!Q", head)
            recv_exactly_until_eof(conn)
            conn.sendall(b"r" * reply)
        finally:
            conn.close()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    open(a.ready, "w").close()
    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                try:
                    while True:
                        key.fileobj.recv(65536)
                except BlockingIOError:
                    pass
            else:
                try:
                    conn, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)
                threading.Thread(target=serve, args=(conn,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--udp", action="append", default=[])
    s.add_argument("--tcp", action="append", default=[])
    s.add_argument("--ready", required=True)
    s = sub.add_parser("udp")
    s.add_argument("--src", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--sport", type=int, required=True)
    s.add_argument("--dport", type=int, required=True)
    s.add_argument("--count", type=int, default=1)
    s.add_argument("--size", type=int, default=100)
    s.add_argument("--size-step", type=int, default=0)
    s.add_argument("--flows", type=int, default=1)
    s.add_argument("--tos", default="0")
    s.add_argument("--rate", type=float, default=20000)
    s.add_argument("--duration", type=float, default=0)
    s.add_argument("--stop-file")
    s = sub.add_parser("tcp")
    s.add_argument("--src", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--sport", type=int, required=True)
    s.add_argument("--dport", type=int, required=True)
    s.add_argument("--send", type=int, required=True)
    s.add_argument("--recv", type=int, required=True)
    s = sub.add_parser("ping")
    s.add_argument("--src", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--size", type=int, required=True)
    s = sub.add_parser("probe")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--text", required=True)
    a = p.parse_args()
    {"sink": cmd_sink, "udp": cmd_udp, "tcp": cmd_tcp, "ping": cmd_ping, "probe": cmd_probe}[a.cmd](a)


if __name__ == "__main__":
    main()
