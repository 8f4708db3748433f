"""The crafted cases of fields.v9 / fields.ipfix and the export they must produce.

A case is a list of packets (built by pcapcraft from small specs) plus
netflowd parameters. Each packet also yields its *facts* (addresses, key
ports, option kinds, ...) computed from the spec by the rules of
docs/export-formats.md; flows, their exported values and their template
element lists follow from the facts. Nothing here comes from netflowd.
"""

import struct
from dataclasses import dataclass, field

import pcapcraft as pc

TCP, UDP, ICMP, IGMP, ESP, AH, ICMPV6, SCTP, UDPLITE = 6, 17, 1, 2, 50, 51, 58, 132, 136
IPV6_HOP, IPV6_ROUTE, IPV6_FRAG, IPV6_DST = 0, 43, 44, 60

# ipv6ExtensionHeaders bit numbers (RFC 5102 table; bit 0 = most significant)
EXT_BIT = {"dst": 0, "hop": 1, "unk": 3, "frag0": 4, "rt": 5, "frag1": 6, "ipcomp": 8, "ah": 9, "esp": 10}
# final headers that set nothing (docs: TCP, UDP, UDP-Lite, SCTP, ICMPv6, DCCP, GRE, PIM, L2TP, IPIP)
EXT_SILENT_FINAL = {TCP, UDP, UDPLITE, SCTP, ICMPV6, 33, 47, 103, 115, 4, 41}

MAC_A, MAC_B = "02:00:5e:10:00:01", "0a:1b:2c:3d:4e:5f"


def msb_bits(numbers, width):
    """Bit n counted from the most significant bit, for every n in numbers (< width)."""
    v = 0
    for n in numbers:
        if n < width:
            v |= 1 << (width - 1 - n)
    return v


# ------------------------------------------------------------------ specs

@dataclass
class Tcp:
    sport: int
    dport: int
    flags: int
    options: list = field(default_factory=list)  # [(kind, data)]; kinds 0 and 1 are single bytes
    payload: int = 0


@dataclass
class Udp:
    sport: int
    dport: int
    payload: int = 0


@dataclass
class Icmp:  # ICMP in IPv4, ICMPv6 in IPv6
    type: int
    code: int
    payload: bytes = b""


@dataclass
class Igmp:
    type: int
    group: str


@dataclass
class Esp:
    spi: int
    payload: int = 32


@dataclass
class Ah:  # IPv4 AH carrying another transport spec
    spi: int
    inner: object


@dataclass
class Sctp:
    sport: int
    dport: int
    payload: int = 16  # one DATA-like chunk worth of bytes


@dataclass
class UdpLite:
    sport: int
    dport: int
    payload: int = 0


@dataclass
class Raw:  # a later fragment: bytes of some protocol, no transport header
    proto: int
    length: int


@dataclass
class V4:
    src: str
    dst: str
    tos: int = 0
    options: list = field(default_factory=list)  # [(type, data)]
    frag_offset: int = 0  # 8-byte units
    more_fragments: bool = False


@dataclass
class V6:
    src: str
    dst: str
    tc: int = 0
    label: int = 0
    # ("hop"|"dst", options) ("rt", [addr]) ("frag", offset units, more) ("ah", spi), outermost first
    ext: list = field(default_factory=list)


@dataclass
class Eth:
    dst: str = MAC_B
    src: str = MAC_A
    tags: list = field(default_factory=list)  # [(tpid, pcp, vid)] outer first
    mpls: list = field(default_factory=list)  # [(label, tc, ttl)] top first


# ------------------------------------------------------------------ facts

@dataclass
class Pkt:
    ts_us: int
    frame: bytes
    family: int
    src: str
    dst: str
    proto: int
    sport: int
    dport: int
    tos: int
    ip_len: int
    tcp_flags: int = 0
    tcp_kinds: frozenset = frozenset()
    ip_opts: frozenset = frozenset()
    ext: frozenset = frozenset()
    label: int = 0
    spi: int = None
    igmp_type: int = None
    icmp: tuple = None
    eth: Eth = None
    ethertype: int = 0


def seen_option_kinds(options, number):
    """Kinds an RFC 791/9293 walk sees: every option up to and including the first EOL (0);
    when the list needs padding and has no EOL, the zero padding is an EOL."""
    kinds, raw = set(), b""
    for kind, data in options:
        kinds.add(number(kind))
        raw += bytes([kind]) if kind in (0, 1) else bytes([kind, 2 + len(data)]) + data
        if kind == 0:
            return frozenset(kinds)
    if len(raw) % 4:
        kinds.add(0)
    return frozenset(kinds)


def _encode_options(options, one):
    return b"".join(one(k, d) for k, d in options)


def _transport(l4, family, src, dst):
    """(proto, bytes, facts dict) of a transport spec."""
    if isinstance(l4, Tcp):
        opts = _encode_options(l4.options, pc.tcp_option)
        data = pc.tcp(src, dst, l4.sport, l4.dport, l4.flags, opts, b"\x55" * l4.payload)
        kinds = seen_option_kinds(l4.options, lambda k: k) if l4.options else frozenset()
        return TCP, data, dict(sport=l4.sport, dport=l4.dport, tcp_flags=l4.flags,
                               tcp_kinds=frozenset(k for k in kinds if k < 64))
    if isinstance(l4, Udp):
        return UDP, pc.udp(src, dst, l4.sport, l4.dport, b"\x66" * l4.payload), dict(sport=l4.sport, dport=l4.dport)
    if isinstance(l4, Icmp):
        if family == 4:
            data, proto = pc.icmp(l4.type, l4.code, payload=l4.payload), ICMP
        else:
            data, proto = pc.icmpv6(src, dst, l4.type, l4.code, payload=l4.payload), ICMPV6
        return proto, data, dict(sport=0, dport=(l4.type << 8) | l4.code, icmp=(l4.type, l4.code))
    if isinstance(l4, Igmp):
        return IGMP, pc.igmp(l4.type, l4.group), dict(sport=0, dport=l4.type, igmp_type=l4.type)
    if isinstance(l4, Esp):
        return ESP, pc.esp(l4.spi, payload=b"\xAA" * l4.payload), dict(
            sport=l4.spi >> 16, dport=l4.spi & 0xFFFF, spi=l4.spi)
    if isinstance(l4, Ah):
        inner_proto, inner, _ = _transport(l4.inner, family, src, dst)
        return AH, pc.ah(inner_proto, l4.spi, inner), dict(sport=l4.spi >> 16, dport=l4.spi & 0xFFFF, spi=l4.spi)
    if isinstance(l4, Sctp):
        chunk = bytes([0, 3]) + struct.pack("!H", 4 + l4.payload) + b"\x88" * l4.payload
        return SCTP, pc.sctp(l4.sport, l4.dport, chunks=chunk), dict(sport=l4.sport, dport=l4.dport)
    if isinstance(l4, UdpLite):
        return UDPLITE, pc.udplite(src, dst, l4.sport, l4.dport, b"\x99" * l4.payload), dict(
            sport=l4.sport, dport=l4.dport)
    if isinstance(l4, Raw):
        return l4.proto, b"\x77" * l4.length, dict(sport=0, dport=0)
    raise TypeError(l4)


NO_MAC = "00:00:00:00:00:00"


def packet(ts_us, l3, l4, eth=None, raw=False):
    """raw: the frame is the bare IP packet (pcap linktype RAW), no MACs, tags or labels."""
    eth = Eth(dst=NO_MAC, src=NO_MAC) if raw else (eth or Eth())
    family = 4 if isinstance(l3, V4) else 6
    proto, seg, facts = _transport(l4, family, l3.src, l3.dst)
    if family == 4:
        opts = _encode_options(l3.options, pc.ipv4_option)
        ip = pc.ipv4(l3.src, l3.dst, proto, seg, tos=l3.tos, options=opts, frag_offset=l3.frag_offset,
                     more_fragments=l3.more_fragments)
        ip_opts = seen_option_kinds(l3.options, lambda t: t & 0x1F) if l3.options else frozenset()
        if l3.frag_offset:  # a later fragment has no ports
            facts.update(sport=0, dport=0)
        tos, ext, label, ethertype = l3.tos, frozenset(), 0, pc.ETH_IPV4
        ip_len = len(ip)  # IPv4 total length
    else:
        # extension headers, innermost first
        ext = set()
        final = proto
        later = False
        for e in l3.ext:
            if e[0] == "frag" and e[1]:
                later = True
        ext.update(set() if final in EXT_SILENT_FINAL else {"esp"} if final == ESP else {"unk"})
        payload, nxt = seg, proto
        for e in reversed(l3.ext):
            if e[0] in ("hop", "dst"):
                payload = pc.ipv6_options_header(nxt, e[1]) + payload
                nxt = IPV6_HOP if e[0] == "hop" else IPV6_DST
                ext.add(e[0])
            elif e[0] == "rt":
                payload = pc.ipv6_routing_header(nxt, e[1]) + payload
                nxt = IPV6_ROUTE
                ext.add("rt")
            elif e[0] == "frag":
                payload = pc.ipv6_fragment_header(nxt, e[1], e[2]) + payload
                nxt = IPV6_FRAG
                ext.add("frag1" if e[1] else "frag0")
            elif e[0] == "ah":
                payload = pc.ah(nxt, e[1], payload)
                nxt = AH
                ext.add("ah")
                facts["spi"] = e[1]
        ip = pc.ipv6(l3.src, l3.dst, nxt, payload, traffic_class=l3.tc, flow_label=l3.label)
        if later:
            facts.update(sport=0, dport=0)
        ip_opts, tos, label, ethertype = frozenset(), l3.tc, l3.label, pc.ETH_IPV6
        ip_len = len(ip)  # payload length + 40
        ext = frozenset(ext)
    if raw:
        frame = ip
    elif eth.mpls:
        frame = pc.ethernet(eth.dst, eth.src, pc.ETH_MPLS, pc.mpls_stack(eth.mpls) + ip, tags=[
            (t[0], t[1], t[2]) for t in eth.tags])
    else:
        frame = pc.ethernet(eth.dst, eth.src, ethertype, ip, tags=eth.tags)
    return Pkt(ts_us=ts_us, frame=frame, family=family, src=l3.src, dst=l3.dst, proto=proto, tos=tos,
               ip_len=ip_len, ip_opts=ip_opts, ext=ext, label=label, eth=eth, ethertype=ethertype, **facts)


# ------------------------------------------------------------------ flows

@dataclass
class Flow:
    """One expected flow record: its packets and flowEndReason (docs: 4 = forced end, the
    end of the capture, unless a case says otherwise)."""
    pkts: list
    end_reason: int = 4

    @property
    def p(self):
        return self.pkts[0]


def flow_key(p, params):
    k = (p.family, p.src, p.dst, p.sport, p.dport, p.proto, p.tos, tuple((t[1], t[2]) for t in p.eth.tags))
    if params.get("macaddress"):
        k += (p.eth.src, p.eth.dst)
    depth = params.get("mpls_depth", 0)
    if depth:
        k += (tuple(p.eth.mpls[:depth]),)
    return k


def flows_of(pkts, params):
    flows = {}
    for p in pkts:
        flows.setdefault(flow_key(p, params), []).append(p)
    return [Flow(v) for v in flows.values()]


def ports_block(p):
    return p.proto in (TCP, UDP, SCTP, UDPLITE)


def is_icmp(p):
    return (p.family == 4 and p.proto == ICMP) or (p.family == 6 and p.proto == ICMPV6)


def mac_fields_expected(p, params):
    """docs: "[macaddress=1 and either MAC is not zero: 80, 56]" (upstream's rule), so a raw-IP
    capture, which has no MAC addresses, exports none (case raw_ip_macaddress)."""
    return bool(params.get("macaddress")) and (p.eth.src != NO_MAC or p.eth.dst != NO_MAC)


def exported_tags(p):
    """docs: VLAN elements need a tag whose TCI is not 0 (upstream's rule: a TCI of 0 cannot be
    told from "no tag"); a second tag with TCI 0 exports only the outer one."""
    tci = [(pcp << 13) | vid for (_, pcp, vid) in p.eth.tags]
    if not tci or tci[0] == 0:
        return []
    return p.eth.tags[:1] if len(tci) < 2 or tci[1] == 0 else p.eth.tags[:2]


def expected_template(f, version, params):
    """Element ids and lengths, in order, by 'Data templates' of docs/export-formats.md."""
    p, ipfix = f.p, version == 10
    t = []
    ipv4_opts = set().union(*(q.ip_opts for q in f.pkts))
    ext = set().union(*(q.ext for q in f.pkts))
    tcp_kinds = set().union(*(q.tcp_kinds for q in f.pkts))
    if p.family == 6:
        t += [(27, 16), (28, 16), (62, 16), (60, 1)]
        if p.label:
            t.append((31, 4))
        if ext:
            t.append((64, 4))
        if is_icmp(p):  # v9 too, as its one ICMP_TYPE element 32 (nfdump reads only that)
            t.append((139, 2) if ipfix else (32, 2))
    else:
        t += [(8, 4), (12, 4), (15, 4), (60, 1)]
        if ipv4_opts:
            t.append((208, 4))
        if is_icmp(p):
            t.append((32, 2))
    if ports_block(p):
        t += [(7, 2), (11, 2), (6, 1)]
    elif not ipfix and is_icmp(p):
        t += [(7, 2), (11, 2)]
    t += [(10, 4), (14, 4), (2, 8), (1, 8)]
    t += [(152, 8), (153, 8)] if ipfix else [(22, 4), (21, 4)]
    t += [(4, 1), (5, 1)]
    if ipfix:
        t.append((136, 1))
    if tcp_kinds:
        t.append((209, 8))
    if p.proto == IGMP and p.family == 4:
        t.append((33, 1))
    if p.spi is not None:  # ESP, AH (IPv4) and IPv6 AH headers
        t.append((295, 4))
    if mac_fields_expected(p, params):
        t += [(80, 6), (56, 6)]
    if params.get("vlan") and exported_tags(p):
        if ipfix:
            t += [(243, 2), (244, 1)]
            if len(exported_tags(p)) > 1:
                t += [(245, 2), (246, 1)]
        else:
            t.append((58, 2))
    if params.get("macaddress") or params.get("vlan"):
        t.append((256, 2))
    depth = params.get("mpls_depth", 0)
    if depth and p.eth.mpls:
        t.append((200, 1))
        t += [(70 + i, 3) for i in range(depth)]
    if params.get("direction"):
        t.append((61, 1))
    return t


def expected_values(f, version, params, boot_us):
    """{tshark field: expected value} for one flow record. Values are ints, strings (addresses,
    MACs) or lists (MPLS label stack). Times: IPFIX Unix ms; v9 ms since the first packet."""
    p, ipfix = f.p, version == 10
    first, last = min(q.ts_us for q in f.pkts), max(q.ts_us for q in f.pkts)
    e = {}
    if p.family == 6:
        e.update({"cflow.srcaddrv6": p.src, "cflow.dstaddrv6": p.dst, "cflow.nexthopv6": "::"})
        if p.label:
            e["cflow.ipv6flowlabel"] = p.label
        ext = set().union(*(q.ext for q in f.pkts))
        if ext:
            e["cflow.ipv6_exthdr"] = msb_bits([EXT_BIT[x] for x in ext], 32)
    else:
        e.update({"cflow.srcaddr": p.src, "cflow.dstaddr": p.dst, "cflow.nexthop": "0.0.0.0"})
        opts = set().union(*(q.ip_opts for q in f.pkts))
        if opts:
            e["cflow.option_map"] = msb_bits(opts, 32)
    e["cflow.ip_version"] = p.family
    if is_icmp(p):
        if p.family == 4 or not ipfix:
            e["cflow.icmp_type_code_ipv4"] = (p.icmp[0] << 8) | p.icmp[1]
        else:
            e["cflow.icmp_ipv6_type"], e["cflow.icmp_ipv6_code"] = p.icmp
    if ports_block(p) or (not ipfix and is_icmp(p)):
        e["cflow.srcport"], e["cflow.dstport"] = p.sport, p.dport
    if ports_block(p):
        flags = 0
        for q in f.pkts:
            flags |= q.tcp_flags
        e["cflow.tcpflags"] = flags
    e["cflow.inputint"], e["cflow.outputint"] = 0, 0
    e["cflow.packets"] = len(f.pkts)
    e["cflow.octets"] = sum(q.ip_len for q in f.pkts)
    if ipfix:
        e["start_ms"], e["end_ms"] = first // 1000, last // 1000
    else:
        e["start_ms"], e["end_ms"] = (first - boot_us) // 1000, (last - boot_us) // 1000
    e["cflow.protocol"] = p.proto
    e["cflow.tos"] = p.tos
    if ipfix:
        e["cflow.flow_end_reason"] = f.end_reason
    kinds = set().union(*(q.tcp_kinds for q in f.pkts))
    if kinds:
        e["cflow.tcp_option_map"] = msb_bits(kinds, 64)
    if p.igmp_type is not None:
        e["cflow.igmp_type"] = p.igmp_type
    if p.spi is not None:
        e["cflow.ipsec_spi"] = p.spi
    if mac_fields_expected(p, params):
        e["cflow.dstmac"], e["cflow.srcmac"] = p.eth.dst, p.eth.src
    if params.get("vlan") and exported_tags(p):
        (_, pcp0, vid0) = exported_tags(p)[0]
        if ipfix:
            e["cflow.dot1q_vlan_id"], e["cflow.dot1q_priority"] = vid0, pcp0
            if len(exported_tags(p)) > 1:
                (_, pcp1, vid1) = exported_tags(p)[1]
                e["cflow.dot1q_customer_vlan_id"], e["cflow.dot1q_customer_priority"] = vid1, pcp1
        else:
            e["cflow.vlanid"] = vid0
    if params.get("macaddress") or params.get("vlan"):
        # not pinned by the docs: the EtherType of the network layer (after tags / label stack)
        e["cflow.ethernet_type"] = p.ethertype
    depth = params.get("mpls_depth", 0)
    if depth and p.eth.mpls:
        stack = p.eth.mpls[:depth]
        e["cflow.mpls_top_label_ttl"] = stack[0][2]
        # mplsLabelStackSection1..N: label << 4 | traffic class << 1 | bottom-of-stack (3 bytes);
        # entries below the stack's bottom (depth > stack) are zero
        e["mpls_sections"] = [(lab << 4) | (tc << 1) | (1 if i == len(p.eth.mpls) - 1 else 0)
                              for i, (lab, tc, _) in enumerate(stack)] + [0] * (depth - len(stack))
    if params.get("direction"):
        e["cflow.direction"] = 0  # ingress: --read meters what it reads as received
    return e


# ------------------------------------------------------------------ the cases

S = 1_000_000
MS = 1000


def _t(base_s, offset_us):
    """Timestamps: the first packet of a case is on a whole millisecond, later ones carry
    sub-millisecond parts below 0.5 ms (truncation and rounding agree on them)."""
    return base_s * S + offset_us


A4, B4 = "192.0.2.10", "198.51.100.20"
A6, B6 = "2001:db8:1::10", "2001:db8:2::20"


def case_tcp_options(base):
    mss, sackok, ws, ts = (2, b"\x05\xb4"), (4, b""), (3, b"\x07"), (8, b"\x00\x00\x10\x00\x00\x00\x00\x00")
    nop, eol = (1, b""), (0, b"")
    tfo, exp254 = (34, b""), (254, b"\xf9\x89")  # kind 34 (TFO), 254 (experimental, >= 64: no bit)
    l3 = V4(A4, B4)
    return [
        # 20 bytes of options, no padding: no EOL seen here
        packet(_t(base, 0), l3, Tcp(40000, 443, 0xC2, [mss, sackok, ts, nop, ws])),  # SYN ECE CWR
        packet(_t(base, 1 * MS + 123), l3, Tcp(40000, 443, 0x10, [nop, nop, ts], payload=0)),  # ACK
        # 2 + 4 + 1 = 7 bytes, the EOL then one byte of padding
        packet(_t(base, 2 * MS + 250), l3, Tcp(40000, 443, 0x18, [tfo, exp254, eol], payload=100)),  # PSH ACK
        packet(_t(base, 5 * MS + 499), l3, Tcp(40000, 443, 0x11)),  # FIN ACK, no options
    ]


def case_ipv4_options(base):
    ra, rr, sid = (148, b"\x00\x00"), (7, b"\x04" + bytes(8)), (136, b"\x12\x34")
    nop, eol = (1, b""), (0, b"")
    return [
        # NOP RA RR SID EOL: 1+4+11+4+1 = 21 bytes, padded to 24
        packet(_t(base, 0), V4(A4, B4, options=[nop, ra, rr, sid, eol]), Udp(5000, 6000, 20)),
        packet(_t(base, 3 * MS + 7), V4(A4, B4, options=[ra]), Udp(5000, 6000, 200)),  # 4 bytes, no EOL
    ]


def case_icmp(base):
    unreach_payload = pc.ipv4(B4, "203.0.113.5", 17, pc.udp(B4, "203.0.113.5", 1234, 53))[:28]
    return [
        packet(_t(base, 0), V4(A4, B4), Icmp(8, 0, b"ping" * 8)),
        packet(_t(base, 1000 * MS + 1), V4(A4, B4), Icmp(8, 0, b"ping" * 8)),
        packet(_t(base, 1500 * MS + 2), V4(B4, A4, tos=0xC0), Icmp(3, 3, unreach_payload)),
    ]


def case_igmp(base):
    ra = (148, b"\x00\x00")
    return [
        packet(_t(base, 0), V4(A4, "224.0.0.22", tos=0xC0, options=[ra]), Igmp(0x16, "239.1.2.3")),
        packet(_t(base, 10 * MS), V4(A4, "224.0.0.22", tos=0xC0, options=[ra]), Igmp(0x16, "239.1.2.3")),
        packet(_t(base, 20 * MS + 333), V4(B4, "224.0.0.1", options=[ra]), Igmp(0x11, "0.0.0.0")),
    ]


def case_ipsec(base):
    return [
        packet(_t(base, 0), V4(A4, B4), Esp(0x12345678, 48)),
        packet(_t(base, 7 * MS + 77), V4(A4, B4), Esp(0x12345678, 96)),
        packet(_t(base, 9 * MS + 99), V4(B4, A4), Ah(0xDEADBEEF, Tcp(22, 50022, 0x18, payload=40))),
    ]


def case_ipv6_udp(base):
    l3 = V6(A6, B6, tc=0xB9, label=0xABCDE)  # DSCP 46 (EF) + ECN 1: the full byte, not a nibble
    return [
        packet(_t(base, 0), l3, Udp(5353, 5354, 10)),
        packet(_t(base, 20 * MS + 20), l3, Udp(5353, 5354, 300)),
        packet(_t(base, 40 * MS + 40), l3, Udp(5353, 5354, 1000)),
    ]


def case_ipv6_ext(base):
    router_alert = b"\x05\x02\x00\x00"  # hop-by-hop option: router alert
    ext = [("hop", router_alert), ("dst", b""), ("rt", [B6])]
    return [
        packet(_t(base, 0), V6(A6, B6, ext=ext), Tcp(33000, 80, 0x02, [(2, b"\x05\x8c")])),
        packet(_t(base, 1 * MS + 1), V6(A6, B6, ext=ext), Tcp(33000, 80, 0x10, payload=64)),
    ]


def case_ipv6_fragments(base):
    first = V6(A6, B6, label=0x12345, ext=[("frag", 0, True)])
    return [
        # first fragment: UDP header + 64 bytes; it keeps its ports (docs: unlike upstream)
        packet(_t(base, 0), first, Udp(7000, 7001, 64)),
        # later fragments (offsets 9 and 18 units of 8 bytes): ports 0, a flow of their own
        packet(_t(base, 1 * MS), V6(A6, B6, label=0x12345, ext=[("frag", 9, True)]), Raw(UDP, 72)),
        packet(_t(base, 2 * MS + 200), V6(A6, B6, label=0x12345, ext=[("frag", 18, False)]), Raw(UDP, 20)),
    ]


def case_ipv4_fragments(base):
    return [
        packet(_t(base, 0), V4(A4, B4, more_fragments=True), Udp(8000, 8001, 64)),
        packet(_t(base, 1 * MS + 10), V4(A4, B4, frag_offset=9), Raw(UDP, 40)),
    ]


def case_icmpv6(base):
    return [
        packet(_t(base, 0), V6(A6, B6), Icmp(128, 0, b"echo" * 4)),
        packet(_t(base, 1000 * MS + 111), V6(A6, B6), Icmp(128, 0, b"echo" * 4)),
        packet(_t(base, 1000 * MS + 444), V6(B6, A6), Icmp(129, 0, b"echo" * 4)),
    ]


def case_qinq(base):
    eth = Eth(tags=[(pc.ETH_8021AD, 5, 100), (pc.ETH_8021Q, 3, 200)])
    return [
        packet(_t(base, 0), V4(A4, B4, tos=0x28), Udp(1111, 2222, 30), eth=eth),
        packet(_t(base, 50 * MS + 50), V4(A4, B4, tos=0x28), Udp(1111, 2222, 3), eth=eth),
    ]


def case_vlan_single(base):
    eth = Eth(tags=[(pc.ETH_8021Q, 6, 42)])
    return [
        packet(_t(base, 0), V6(A6, B6), Udp(3333, 4444, 12), eth=eth),
    ]


def case_mpls(base):
    eth = Eth(mpls=[(1000, 5, 63), (2000, 2, 62)])
    return [
        packet(_t(base, 0), V4(A4, B4), Tcp(1500, 179, 0x18, payload=19), eth=eth),
        packet(_t(base, 30 * MS + 3), V4(A4, B4), Tcp(1500, 179, 0x10), eth=eth),
    ]


def case_tos_direction(base):
    eth = Eth(dst="00:11:22:33:44:55", src="66:77:88:99:aa:bb")
    return [
        packet(_t(base, 0), V4(A4, B4, tos=0xB8), Udp(9999, 53, 40), eth=eth),
        packet(_t(base, 2 * MS + 2), V4(A4, B4, tos=0xB8), Udp(9999, 53, 2), eth=eth),
    ]


def case_ipv6_misc(base):
    return [
        # ESP as the final header: ESP bit, SPI
        packet(_t(base, 0), V6(A6, B6), Esp(0xA1B2C3D4, 40)),
        # destination options, then No Next Header (59): DST + UNK
        packet(_t(base, 1 * MS), V6(A6, B6, ext=[("dst", b"")]), Raw(59, 0)),
        # AH as an extension header before TCP: AH bit, the SPI, TCP's own ports
        packet(_t(base, 2 * MS + 2), V6(B6, A6, ext=[("ah", 0x0BADCAFE)]), Tcp(443, 51000, 0x12, [(2, b"\x05\xa0")])),
    ]


def case_sctp_udplite(base):
    return [
        packet(_t(base, 0), V4(A4, B4), Sctp(2905, 2906)),
        packet(_t(base, 4 * MS + 44), V4(A4, B4), Sctp(2905, 2906, payload=100)),
        packet(_t(base, 5 * MS + 55), V6(A6, B6), UdpLite(6000, 6001, 50)),
    ]


def case_vlan_zero_tci(base):
    return [
        # priority-tagged: VID 0, priority 5
        packet(_t(base, 0), V4(A4, B4), Udp(1, 2, 4), eth=Eth(tags=[(pc.ETH_8021Q, 5, 0)])),
        # a tag whose TCI is all zero cannot be told from no tag: no VLAN elements (as upstream)
        packet(_t(base, 1 * MS), V4(A4, B4), Udp(3, 4, 4), eth=Eth(tags=[(pc.ETH_8021Q, 0, 0)])),
        # QinQ whose inner (customer) tag has TCI 0: only the outer tag is exported
        packet(_t(base, 2 * MS), V4(A4, B4), Udp(5, 6, 4), eth=Eth(tags=[(pc.ETH_8021AD, 1, 300),
                                                                          (pc.ETH_8021Q, 0, 0)])),
    ]


def case_raw_mac(base):
    # linktype RAW with macaddress=1: no MAC addresses, so no MAC elements (ethernetType stays)
    return [
        packet(_t(base, 0), V4(A4, B4), Udp(1000, 2000, 10), raw=True),
        packet(_t(base, 1 * MS + 1), V6(A6, B6), Udp(1000, 2000, 10), raw=True),
    ]


def case_mpls3(base):
    eth = Eth(mpls=[(16, 7, 255), (1048575, 0, 1), (3000, 1, 9)])  # three entries, the top two exported
    return [packet(_t(base, 0), V4(A4, B4), Udp(4789, 4790, 8), eth=eth)]


def case_mpls_short(base):
    eth = Eth(mpls=[(777, 3, 40)])  # one entry, mpls_depth=3: sections 2 and 3 are zero
    return [packet(_t(base, 0), V6(A6, B6), Udp(4789, 4790, 8), eth=eth)]


def case_end_reasons(base):
    """active_timeout=20 inactive_timeout=5. A 'clock' of UDP packets every 1.5 s keeps time
    moving; every other flow ends for a known reason (docs: flowEndReason)."""
    clock_l3, clock = V4(A4, B4), Udp(123, 123, 48)
    ticks = [packet(_t(base, k * 1500 * MS + k), clock_l3, clock) for k in range(0, 21)]  # 0 .. 30 s
    fin = [packet(_t(base, 100 * MS), V4(A4, B4), Tcp(41000, 80, 0x02)),
           packet(_t(base, 1100 * MS), V4(A4, B4), Tcp(41000, 80, 0x11))]  # FIN, then idle: 3
    rst = [packet(_t(base, 200 * MS), V4(A4, B4), Tcp(41001, 80, 0x02)),
           packet(_t(base, 300 * MS), V4(A4, B4), Tcp(41001, 80, 0x04))]  # RST, then idle: 3
    idle = [packet(_t(base, 400 * MS), V4(A4, B4), Udp(5000, 5001, 1)),
            packet(_t(base, 900 * MS), V4(A4, B4), Udp(5000, 5001, 1))]  # idle: 1
    # a packet between two ticks, after 20 s: the scan it triggers ends the clock flow's first
    # record (active timeout: 2) before the next tick; it then idles out itself (1)
    probe = [packet(_t(base, 20300 * MS), V4(B4, A4), Udp(7, 7, 0))]
    late_fin = [packet(_t(base, 29000 * MS), V4(A4, B4), Tcp(41002, 80, 0x02)),
                packet(_t(base, 29500 * MS), V4(A4, B4), Tcp(41002, 80, 0x11))]  # FIN, not idle: 4
    first = [p for p in ticks if p.ts_us - ticks[0].ts_us < 20 * S]
    rest = [p for p in ticks if p not in first]
    pkts = sorted(ticks + fin + rst + idle + probe + late_fin, key=lambda p: p.ts_us)
    flows = [Flow(first, 2), Flow(rest, 4), Flow(fin, 3), Flow(rst, 3), Flow(idle, 1), Flow(probe, 1),
             Flow(late_fin, 4)]
    return pkts, flows


def case_flow_keys(base):
    """Default parameters. The key has up to two VLAN TCIs and the TOS always, MACs only with
    macaddress=1, labels only with mpls_depth > 0 (docs: "Flow key")."""
    l4 = Udp(1000, 2000, 8)
    v10, v20 = Eth(tags=[(pc.ETH_8021Q, 0, 10)]), Eth(tags=[(pc.ETH_8021Q, 0, 20)])
    v10_other_mac = Eth(dst="00:00:5e:00:53:01", src="00:00:5e:00:53:02", tags=[(pc.ETH_8021Q, 0, 10)])
    v10_pcp3 = Eth(tags=[(pc.ETH_8021Q, 3, 10)])
    return [
        packet(_t(base, 0), V4(A4, B4), l4, eth=v10),  # F1
        packet(_t(base, 1 * MS), V4(A4, B4), l4, eth=v20),  # F2: another VLAN
        packet(_t(base, 2 * MS), V4(A4, B4), l4),  # F3: untagged
        packet(_t(base, 3 * MS), V4(A4, B4, tos=4), l4),  # F4: another TOS
        packet(_t(base, 4 * MS), V4(A4, B4), l4, eth=v10_pcp3),  # F5: same VID, another priority
        packet(_t(base, 5 * MS + 5), V4(A4, B4), l4, eth=v10_other_mac),  # F1: MACs are no key here
        packet(_t(base, 6 * MS + 6), V4(A4, B4), l4, eth=Eth(mpls=[(100, 0, 64)])),  # F3: labels neither
        packet(_t(base, 7 * MS + 7), V4(A4, B4), l4, eth=Eth(mpls=[(200, 0, 64)])),  # F3
    ]


def case_many_flows(base):
    """240 flows of three shapes in 1.2 s, payload_size=512, refresh_rate=3: many messages,
    each template re-sent as the docs say; every record still checked field by field."""
    pkts = []
    for i in range(240):
        t = _t(base, i * 5 * MS + i)
        if i % 3 == 0:
            pkts.append(packet(t, V4(A4, "10.9.%d.%d" % (i // 250, i % 250)), Udp(20000 + i, 53, i)))
        elif i % 3 == 1:
            pkts.append(packet(t, V6(A6, "2001:db8:9::%x" % i, label=i), Tcp(30000 + i, 443, 0x02,
                                                                              [(2, b"\x05\xa0"), (4, b"")])))
        else:
            pkts.append(packet(t, V4("10.8.0.%d" % (i % 250), B4, tos=i & 0xFC), Icmp(8, 0)))
    return pkts


class Case:
    def __init__(self, name, build, params=None, linktype=pc.LINKTYPE_ETHERNET):
        self.name, self.build, self.params, self.linktype = name, build, params or {}, linktype

    def make(self, base):
        """(packets in capture order, expected flow records)."""
        out = self.build(base)
        if isinstance(out, tuple):
            return out
        return out, flows_of(out, self.params)


CASES = [
    Case("tcp_options", case_tcp_options),
    Case("ipv4_options", case_ipv4_options),
    Case("icmp", case_icmp),
    Case("igmp", case_igmp),
    Case("ipsec", case_ipsec),
    Case("ipv6_udp_label_tc", case_ipv6_udp),
    Case("ipv6_ext_chain", case_ipv6_ext),
    Case("ipv6_fragments", case_ipv6_fragments),
    Case("ipv4_fragments", case_ipv4_fragments),
    Case("icmpv6", case_icmpv6),
    Case("ipv6_esp_nonext_ah", case_ipv6_misc),
    Case("sctp_udplite_engine_id", case_sctp_udplite, {"engine_id": 300}),
    Case("qinq", case_qinq, {"vlan": 1, "macaddress": 1}),
    Case("vlan_single", case_vlan_single, {"vlan": 1}),
    Case("vlan_zero_tci", case_vlan_zero_tci, {"vlan": 1}),
    Case("mpls", case_mpls, {"mpls_depth": 2}),
    Case("mpls3_depth2", case_mpls3, {"mpls_depth": 2, "macaddress": 1}),
    Case("mpls1_depth3", case_mpls_short, {"mpls_depth": 3}),
    Case("tos_direction_mac", case_tos_direction, {"direction": 1, "macaddress": 1, "vlan": 1}),
    Case("raw_ip_macaddress", case_raw_mac, {"macaddress": 1}, linktype=101),
    Case("end_reasons", case_end_reasons, {"active_timeout": 20, "inactive_timeout": 5}),
    Case("flow_keys", case_flow_keys),
    Case("many_flows_small_payload", case_many_flows, {"payload_size": 512, "refresh_rate": 3}),
]
