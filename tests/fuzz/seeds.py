#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (tests/fuzz/corpus/<target>/seed-*) from a capture.

    tests/fuzz/seeds.py CAPTURE.pcap

The committed seeds came from a capture of tests/gen's nfgen (`nfgen --packets 200000
--flows 20000 --seed 2`: IPv4/IPv6, TCP/UDP/ICMP/SCTP/GRE/ESP, fragments, VLAN and QinQ,
options and extension headers, malformed frames) and from data/demo.pcap. Frames are picked
so that each kind (EtherType after tags, IP protocol, length class, link header length) appears once; the
NAT event messages, configuration files and control requests are written out in full here.
"""
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    link = struct.unpack(endian + "I", data[20:24])[0]
    pos, frames = 24, []
    while pos + 16 <= len(data):
        _, _, caplen, wire = struct.unpack(endian + "IIII", data[pos:pos + 16])
        frames.append((data[pos + 16:pos + 16 + caplen], wire))
        pos += 16 + caplen
    return data, link, frames


def kind(frame):
    """(EtherType after up to two tags, IP protocol or next header, length class)."""
    off, et = 12, None
    while off + 2 <= len(frame):
        et = struct.unpack(">H", frame[off:off + 2])[0]
        if et in (0x8100, 0x88A8):
            off += 4
            continue
        break
    l3 = off + 2
    proto = None
    if et == 0x0800 and l3 + 10 <= len(frame):
        proto = frame[l3 + 9]
    elif et == 0x86DD and l3 + 7 <= len(frame):
        proto = frame[l3 + 6]
    return (et, proto, min(len(frame) // 128, 4), off)


def packet_seeds(frames):
    seen = {}
    for frame, wire in frames:
        k = kind(frame)
        if seen.get(k, 0) >= 1:
            continue
        seen[k] = seen.get(k, 0) + 1
        # link type 0 (Ethernet), flags 0, no wire-length excess, 1 ms steps
        write("packet", "eth-%04x-%s-%d-%d" % (k[0] or 0, k[1], k[2], seen[k]), bytes([0, 0, 0, 0, 0, 1]) + frame)
        if k[0] in (0x0800, 0x86DD) and k[3] == 12:
            # the same without its link header, as NFLOG hands it (link type raw_ip)
            write("packet", "raw-%04x-%s-%d-%d" % (k[0], k[1], k[2], seen[k]), bytes([3, 0, 0, 0, 0, 1]) + frame[14:])
    # the other set-up bits on a plain TCP frame: wide key + aggregation + stripped tag + MAC
    for frame, wire in frames:
        if kind(frame)[:2] == (0x0800, 6):
            write("packet", "eth-tcp-all-options", bytes([0, 0x1F, 0x01, 0x23, 0x03, 0xE8]) + frame)
            break


def pcap_seeds(path, link, frames):
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)
    header_ns = struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, link)
    records = b""
    for i, (frame, wire) in enumerate(frames[:40]):
        records += struct.pack("<IIII", 1700000000 + i, 1000 * i, len(frame), wire) + frame
    for setup, name in ((0x00, "v5"), (0x01, "v9"), (0x06, "ipfix-wide"), (0x19, "v9-aggregation-maxflows"),
                        (0x62, "ipfix-sampler-timeouts")):
        write("pcap_file", "classic-" + name, bytes([setup]) + header + records)
    write("pcap_file", "nanoseconds", bytes([0x02]) + header_ns + records)
    # big-endian (swapped) file
    swapped = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)
    for i, (frame, wire) in enumerate(frames[:10]):
        swapped += struct.pack(">IIII", 1700000000 + i, 0, len(frame), wire) + frame
    write("pcap_file", "swapped", bytes([0x01]) + swapped)
    # pcapng: section header, one interface, enhanced packet blocks
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    ng = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    ng += block(0x00000001, struct.pack("<HHI", link, 0, 65535))
    for i, (frame, wire) in enumerate(frames[:10]):
        ts = (1700000000 + i) * 1000000
        ng += block(0x00000006, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), wire) + frame)
    write("pcap_file", "pcapng", bytes([0x01]) + ng)


def nla(atype, payload, nested=False):
    t = atype | (0x8000 if nested else 0)
    data = struct.pack("<HH", 4 + len(payload), t) + payload
    return data + b"\0" * (-len(data) % 4)


def tuple_nest(atype, src, dst, proto, sport, dport, icmp=None):
    ip = nla(1, nla(1, socket.inet_aton(src)) + nla(2, socket.inet_aton(dst)), nested=True)
    if icmp is None:
        p = nla(1, bytes([proto])) + nla(2, struct.pack(">H", sport)) + nla(3, struct.pack(">H", dport))
    else:
        ident, itype, code = icmp
        p = nla(1, bytes([proto])) + nla(4, struct.pack(">H", ident)) + nla(5, bytes([itype])) + nla(6, bytes([code]))
    return nla(atype, ip + nla(2, p, nested=True), nested=True)


def ct_message(msg_type, orig, reply, status, timestamps=None):
    body = struct.pack("<BBH", socket.AF_INET, 0, 0)
    body += orig + reply + nla(3, struct.pack(">I", status))
    if timestamps:
        body += nla(20, nla(1, struct.pack(">Q", timestamps[0])) + nla(2, struct.pack(">Q", timestamps[1])),
                    nested=True)
    nlmsg_type = (1 << 8) | msg_type  # NFNL_SUBSYS_CTNETLINK; IPCTNL_MSG_CT_NEW 0, _DELETE 2
    return struct.pack("<IHHII", 16 + len(body), nlmsg_type, 0, 0, 0) + body


def conntrack_seeds():
    snat = ct_message(0, tuple_nest(1, "10.0.0.2", "192.0.2.1", 17, 40000, 53),
                      tuple_nest(2, "192.0.2.1", "198.51.100.1", 17, 53, 61000), 0x1 << 4 | 0x8)
    dnat = ct_message(2, tuple_nest(1, "192.0.2.9", "198.51.100.1", 6, 50000, 80),
                      tuple_nest(2, "10.0.0.3", "192.0.2.9", 6, 8080, 50000), 0x1 << 5 | 0x8,
                      timestamps=(1700000000 * 10**9, 1700000005 * 10**9))
    icmp = ct_message(0, tuple_nest(1, "10.0.0.2", "192.0.2.1", 1, 0, 0, icmp=(77, 8, 0)),
                      tuple_nest(2, "192.0.2.1", "198.51.100.1", 1, 0, 0, icmp=(1077, 0, 0)), 0x1 << 4)
    plain = ct_message(0, tuple_nest(1, "10.0.0.2", "10.0.0.3", 17, 1, 2),
                       tuple_nest(2, "10.0.0.3", "10.0.0.2", 17, 2, 1), 0x8)
    write("conntrack", "snat-create", snat)
    write("conntrack", "dnat-destroy-timestamps", dnat)
    write("conntrack", "icmp-snat", icmp)
    write("conntrack", "no-nat", plain)
    write("conntrack", "batch", snat + dnat + icmp + plain)


def nflog_message(seq, payload, hook=1, indev=2, outdev=0, hwheader=None, vlan_tci=None, timestamp=True):
    """One nfnetlink_log packet message as the kernel sends it (attribute types from
    linux/netfilter/nfnetlink_log.h)."""
    body = struct.pack("<BBH", socket.AF_INET, 0, socket.htons(7))  # nfgenmsg: family, version, group
    body += nla(1, struct.pack(">HBB", 0x0800, hook, 0))  # NFULA_PACKET_HDR
    if timestamp:
        body += nla(3, struct.pack(">QQ", 1700000000 + seq, 250000))  # NFULA_TIMESTAMP
    if indev:
        body += nla(4, struct.pack(">I", indev))  # NFULA_IFINDEX_INDEV
    if outdev:
        body += nla(5, struct.pack(">I", outdev))  # NFULA_IFINDEX_OUTDEV
    if hwheader is not None:
        body += nla(15, struct.pack(">H", 1))  # NFULA_HWTYPE: ARPHRD_ETHER
        body += nla(16, hwheader)  # NFULA_HWHEADER
        body += nla(17, struct.pack(">H", len(hwheader)))  # NFULA_HWLEN
    if vlan_tci is not None:
        body += nla(20, nla(1, struct.pack(">H", 0x8100)) + nla(2, struct.pack(">H", vlan_tci)), nested=True)
    body += nla(12, struct.pack(">I", seq))  # NFULA_SEQ
    body += nla(9, payload)  # NFULA_PAYLOAD
    nlmsg_type = (4 << 8) | 0  # NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET
    return struct.pack("<IHHII", 16 + len(body), nlmsg_type, 0, 0, 0) + body


def nflog_seeds(frames):
    """NFLOG batches of IP packets from the capture (its Ethernet frames' network layer, cut to
    NFLOG's 256-byte copy range), with the capture facts NFLOG carries."""
    packets = []
    for frame, _ in frames:
        off = 12
        while off + 2 <= len(frame) and struct.unpack(">H", frame[off:off + 2])[0] in (0x8100, 0x88A8):
            off += 4
        if off + 2 <= len(frame) and struct.unpack(">H", frame[off:off + 2])[0] in (0x0800, 0x86DD):
            packets.append((frame[:14], frame[off + 2:off + 2 + 256]))
    picked = {}
    for hw, ip in packets:
        picked.setdefault((ip[0] >> 4, ip[9] if ip[0] >> 4 == 4 and len(ip) > 9 else ip[6:7], min(len(ip) // 64, 4)),
                          (hw, ip))
    picked = list(picked.values())[:24]
    batch = b"".join(nflog_message(i, ip, hook=i % 5, indev=2, outdev=3 if i % 5 == 2 else 0, hwheader=hw,
                                   vlan_tci=5 if i % 3 == 0 else None) for i, (hw, ip) in enumerate(picked))
    write("nflog", "batch", batch)
    # A gap in the sequence numbers (packets the kernel dropped), a locally sent packet (no
    # input interface, MAC header or timestamp), and a message that is not a packet.
    hw, ip = picked[0]
    gap = nflog_message(1, ip, hwheader=hw) + nflog_message(5, ip, hwheader=hw)
    local = nflog_message(1, ip, hook=3, indev=0, outdev=1, timestamp=False)
    other = struct.pack("<IHHII", 20, (4 << 8) | 1, 0, 0, 0) + struct.pack("<BBH", 2, 0, 0)
    write("nflog", "gap", gap)
    write("nflog", "local", local)
    write("nflog", "not-a-packet", other + nflog_message(2, ip))


def config_seeds():
    write("config", "typical", b"""# netflowd.conf
destination = 127.0.0.1:2055, [::1]:4739@::1, 192.0.2.10:9995%eth0
protocol = 10
active_timeout = 300
inactive_timeout = 15
maxflows = 1000000
hashsize = 65536
engine_id = 7
refresh_rate = 20
timeout_rate = 30
sndbuf = 1048576
export_rate = auto
payload_size = 1400
macaddress = 1
vlan = 1
direction = 1
mpls_depth = 2
aggregation = 10.0.0.0/8=16, 192.168.0.0/16=24; 1024-65535=1024 53=5353
sampler = deterministic:100
snmp_rules = ppp:1000, eth:0, vlan:3000
""")
    write("config", "refused", b"scan_min=5\n")
    write("config", "samplers", b"sampler=random:16383\nsampler=hash:2\nprotocol=9\nexport_rate=20000\n")


def control_seeds():
    write("control", "session", b"get\nstat\nstat --json\nstat --snmp\nset inactive_timeout=5\nset sampler=hash:10\n"
          b"set aggregation=10.0.0.0/8=16\nset destination=127.0.0.1:2055,[::1]:4739\nset flush=2\nset protocol=9\n"
          b"get destination\n")
    write("control", "errors", b"stat\nset protocol=7\nset workers=4\nfrobnicate\nset\nget no_such\nset natevents=1\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    _, link, frames = read_pcap(path)
    packet_seeds(frames)
    pcap_seeds(path, link, frames)
    conntrack_seeds()
    nflog_seeds(frames)
    config_seeds()
    control_seeds()


if __name__ == "__main__":
    main()
