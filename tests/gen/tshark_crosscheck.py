#!/usr/bin/env python3
"""Independent check of nfgen's --expected CSV, using tshark's dissection.

usage: tshark_crosscheck.py CAPTURE.pcap EXPECTED.csv [NFGEN_STDOUT.txt]

tshark decodes every frame (IP reassembly off, so first fragments show their
transport header); frames tshark reports as malformed or with an error-level
expert item are taken as the ones nfgen broke on purpose, frames without IP as
non-IP. The remaining frames are aggregated by the CSV key and must match the
CSV exactly. If nfgen's stdout is given, its non_ip/malformed/counted numbers
must match too (for raw-IP captures only non_ip + malformed: tshark shows a
raw frame whose version nibble is neither 4 nor 6 as undissected data, not as
an error, while nfgen calls it malformed). Note: plain `_ws.malformed` does not flag IPv4 frames with a
bad version nibble, IHL < 5 or total length < header length; tshark reports
those only as expert errors ("Bogus IP ..."), hence the combined filter.
Exit status 0 when everything matches.
"""
import collections
import csv
import ipaddress
import struct
import subprocess
import sys

LINKTYPE_RAW = 101

FIELDS = [
    "frame.number", "ip.version", "ip.src", "ip.dst", "ip.len", "ip.dsfield", "ip.proto", "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.tclass", "ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.dstopts.nxt",
    "ipv6.fraghdr.nxt", "ipv6.fraghdr.offset", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
    "sctp.srcport", "sctp.dstport", "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code", "esp.spi",
]
BROKEN = "_ws.malformed || _ws.expert.severity >= error"


def tshark(capture, extra):
    cmd = ["tshark", "-n", "-r", capture, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"] + extra
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def number(text):
    return int(text, 0) if text else 0


def transport_ports(row, proto):
    """Ports as a v5 meter keys them (first occurrence = outer packet)."""
    if proto == 6:
        return number(row["tcp.srcport"]), number(row["tcp.dstport"])
    if proto in (17, 136):  # UDP-Lite is dissected into the udp.* fields
        return number(row["udp.srcport"]), number(row["udp.dstport"])
    if proto == 132:
        return number(row["sctp.srcport"]), number(row["sctp.dstport"])
    if proto == 1:
        return 0, number(row["icmp.type"]) * 256 + number(row["icmp.code"])
    if proto == 58:
        return 0, number(row["icmpv6.type"]) * 256 + number(row["icmpv6.code"])
    if proto == 50:
        spi = number(row["esp.spi"])
        return spi >> 16, spi & 0xFFFF
    return 0, 0


def key_of(row):
    if row["ip.version"] == "4":
        proto = number(row["ip.proto"])
        later_fragment = number(row["ip.frag_offset"]) > 0
        ports = (0, 0) if later_fragment else transport_ports(row, proto)
        key = ("4", row["ip.src"], row["ip.dst"], *ports, proto, number(row["ip.dsfield"]))
        return key, number(row["ip.len"])
    if row["ipv6.src"]:
        proto = number(row["ipv6.fraghdr.nxt"] or row["ipv6.hopopts.nxt"] or row["ipv6.dstopts.nxt"] or row["ipv6.nxt"])
        later_fragment = number(row["ipv6.fraghdr.offset"]) > 0
        ports = (0, 0) if later_fragment else transport_ports(row, proto)
        key = ("6", str(ipaddress.ip_address(row["ipv6.src"])), str(ipaddress.ip_address(row["ipv6.dst"])), *ports,
               proto, number(row["ipv6.tclass"]))
        return key, number(row["ipv6.plen"]) + 40
    return None, 0


def main():
    capture, expected_csv = sys.argv[1], sys.argv[2]
    broken = {int(n) for n in tshark(capture, ["-Y", BROKEN, "-T", "fields", "-e", "frame.number"]).split()}
    args = ["-T", "fields", "-E", "occurrence=f", "-E", "separator=|"]
    for f in FIELDS:
        args += ["-e", f]
    seen = collections.defaultdict(lambda: [0, 0])
    non_ip = counted = 0
    for line in tshark(capture, args).splitlines():
        row = dict(zip(FIELDS, line.split("|")))
        if int(row["frame.number"]) in broken:
            continue
        key, length = key_of(row)
        if key is None:
            non_ip += 1
            continue
        counted += 1
        seen[key][0] += 1
        seen[key][1] += length

    expected = {}
    with open(expected_csv, newline="") as f:
        for r in csv.DictReader(f):
            key = (r["family"], r["src"], r["dst"], int(r["sport"]), int(r["dport"]), int(r["proto"]), int(r["tos"]))
            expected[key] = [int(r["packets"]), int(r["bytes"])]

    problems = 0
    for key in sorted(set(expected) | set(seen), key=str):
        if expected.get(key) != seen.get(key):
            problems += 1
            if problems <= 10:
                print(f"DIFF {key}: expected {expected.get(key)} tshark {seen.get(key)}")
    print(f"tshark: counted={counted} non_ip={non_ip} broken={len(broken)} keys={len(seen)}; csv keys={len(expected)}")
    if len(sys.argv) > 3:
        summary = dict(kv.split("=", 1) for kv in open(sys.argv[3]).read().split() if "=" in kv)
        checks = [("counted", counted), ("non_ip", non_ip), ("malformed", len(broken))]
        with open(capture, "rb") as f:
            if struct.unpack("<I", f.read(24)[20:24])[0] == LINKTYPE_RAW:
                checks = [("counted", counted)]
                summary["skipped"] = int(summary["non_ip"]) + int(summary["malformed"])
                checks.append(("skipped", non_ip + len(broken)))
        for name, value in checks:
            if int(summary[name]) != value:
                problems += 1
                print(f"DIFF nfgen {name}={summary[name]} tshark {value}")
    print("OK" if problems == 0 else f"FAIL: {problems} differences")
    return 0 if problems == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
