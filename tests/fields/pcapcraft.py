"""Hand-made packets for the field-level tests, written as classic pcap.

Independent of netflowd's sources: every header is packed here with struct.
Each builder returns bytes; `Packet` keeps, next to the frame, the facts the
frame was built from (addresses, ports, option kinds, ...) so the expected
export can be derived from the construction, not from netflowd's output.
"""

import ipaddress
import struct

# ---------------------------------------------------------------- pcap file

LINKTYPE_ETHERNET = 1


def write_pcap(path, frames, linktype=LINKTYPE_ETHERNET):
    """frames: iterable of (timestamp_us, frame_bytes[, wire_length])."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for item in frames:
            ts_us, data = item[0], item[1]
            wire = item[2] if len(item) > 2 else len(data)
            f.write(struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(data), wire))
            f.write(data)


# ---------------------------------------------------------------- helpers

def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(addr):
    return ipaddress.ip_address(addr).packed


# ---------------------------------------------------------------- link layer

ETH_IPV4, ETH_IPV6, ETH_8021Q, ETH_8021AD, ETH_MPLS, ETH_ARP = 0x0800, 0x86DD, 0x8100, 0x88A8, 0x8847, 0x0806


def ethernet(dst_mac, src_mac, ethertype, payload, tags=(), pad=True):
    """tags: [(tpid, pcp, vid)], outermost first; the frame is padded to 60 bytes."""
    hdr = mac_bytes(dst_mac) + mac_bytes(src_mac)
    for tpid, pcp, vid in tags:
        hdr += struct.pack("!HH", tpid, (pcp << 13) | vid)
    frame = hdr + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\0" * (60 - len(frame))
    return frame


def mpls_stack(entries):
    """entries: [(label, tc, ttl)] top first; the bottom-of-stack bit is set on the last."""
    out = b""
    for i, (label, tc, ttl) in enumerate(entries):
        s = 1 if i == len(entries) - 1 else 0
        out += struct.pack("!I", (label << 12) | (tc << 9) | (s << 8) | ttl)
    return out


# ---------------------------------------------------------------- IPv4

def ipv4_option(kind, data=b""):
    """One option: EOL (0) and NOP (1) are single bytes, others type-length-value."""
    if kind in (0, 1):
        return bytes([kind])
    return bytes([kind, 2 + len(data)]) + data


def ipv4(src, dst, proto, payload, tos=0, ttl=64, ident=0x1234, frag_offset=0, more_fragments=False,
         dont_fragment=False, options=b""):
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)  # padding: zero bytes (EOL)
    ihl = 5 + len(options) // 4
    flags = (0x4000 if dont_fragment else 0) | (0x2000 if more_fragments else 0) | frag_offset
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, flags, ttl, proto, 0,
                      ip_bytes(src), ip_bytes(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


# ---------------------------------------------------------------- IPv6

def ipv6(src, dst, next_header, payload, traffic_class=0, flow_label=0, hop_limit=64):
    first = (6 << 28) | (traffic_class << 20) | flow_label
    return struct.pack("!IHBB16s16s", first, len(payload), next_header, hop_limit, ip_bytes(src),
                       ip_bytes(dst)) + payload


def ipv6_options_header(next_header, options=b""):
    """Hop-by-hop or destination options header, padded with PadN to a multiple of 8."""
    body = options
    rest = (len(body) + 2) % 8
    if rest:
        pad = 8 - rest
        body += b"\0" if pad == 1 else bytes([1, pad - 2]) + b"\0" * (pad - 2)
    return bytes([next_header, (len(body) + 2) // 8 - 1]) + body


def ipv6_routing_header(next_header, addresses, routing_type=0, segments_left=0):
    body = bytes([routing_type, segments_left]) + b"\0" * 4 + b"".join(ip_bytes(a) for a in addresses)
    return bytes([next_header, (len(body) + 2) // 8 - 1]) + body


def ipv6_fragment_header(next_header, offset_units, more, ident=0xCAFE):
    return struct.pack("!BBHI", next_header, 0, (offset_units << 3) | (1 if more else 0), ident)


# ---------------------------------------------------------------- transport

def tcp_option(kind, data=b""):
    if kind in (0, 1):
        return bytes([kind])
    return bytes([kind, 2 + len(data)]) + data


def pseudo_header(src, dst, proto, length):
    s, d = ip_bytes(src), ip_bytes(dst)
    if len(s) == 4:
        return s + d + struct.pack("!BBH", 0, proto, length)
    return s + d + struct.pack("!IxxxB", length, proto)


def tcp(src, dst, sport, dport, flags, options=b"", payload=b"", seq=1000, ack=0, window=65535):
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)  # padding: zero bytes (EOL)
    off = 5 + len(options) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, window, 0, 0) + options + payload
    c = checksum(pseudo_header(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload=b""):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = checksum(pseudo_header(src, dst, 17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(icmp_type, code, rest=b"\0\0\0\0", payload=b""):
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def icmpv6(src, dst, icmp_type, code, rest=b"\0\0\0\0", payload=b""):
    msg = struct.pack("!BBH", icmp_type, code, 0) + rest + payload
    c = checksum(pseudo_header(src, dst, 58, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def igmp(igmp_type, group, max_resp=0):
    msg = struct.pack("!BBH4s", igmp_type, max_resp, 0, ip_bytes(group))
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def esp(spi, seq=1, payload=b"\xAA" * 24):
    return struct.pack("!II", spi, seq) + payload


def ah(next_header, spi, inner, seq=1, icv=b"\xBB" * 12):
    """IPsec AH (RFC 4302); payload length in 4-byte units minus 2."""
    length = 12 + len(icv)
    return struct.pack("!BBHII", next_header, length // 4 - 2, 0, spi, seq) + icv + inner


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def sctp(sport, dport, vtag=0x01020304, chunks=b""):
    """SCTP common header (RFC 9260) with a CRC32c checksum, stored little-endian as on the wire."""
    pkt = struct.pack("!HHII", sport, dport, vtag, 0) + chunks
    return pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]


def udplite(src, dst, sport, dport, payload=b"", coverage=8):
    seg = struct.pack("!HHHH", sport, dport, coverage, 0) + payload
    c = checksum(pseudo_header(src, dst, 136, len(seg)) + seg[:coverage]) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]
