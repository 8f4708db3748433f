#!/usr/bin/env python3
"""lab.natevents' check: the NAT events netflowd exported, as tshark decodes them, against the
kernel's own conntrack table (`conntrack -L` in the router before `conntrack -F`).

Every IPv4 connection whose reply tuple is not the original one reversed was translated: it
must appear exactly once as a create event (natEvent 1) and once as a destroy event (natEvent
2), with the original tuple as the pre-NAT fields and the reply tuple reversed as the post-NAT
fields (ICMP: the echo id as the source port, type << 8 | code as the destination port).
Nothing else may be exported as a NAT event.

usage: natcheck.py CONNTRACK_LIST EXPORTS_PCAP PORT PROTOCOL(5|9|10)"""
import collections
import subprocess
import sys


def conntrack_entries(path):
    """(protocol, orig, reply) per line; a tuple is (src, dst, sport, dport)."""
    out = []
    for line in open(path):
        words = line.split()
        if len(words) < 3 or not words[1].isdigit():
            continue
        proto = int(words[1])
        kv = [w.split("=", 1) for w in words if "=" in w]
        tuples = [[], []]
        seen = collections.Counter()
        for k, v in kv:
            if k in ("src", "dst", "sport", "dport", "type", "code", "id"):
                seen[k] += 1
                if seen[k] <= 2:
                    tuples[seen[k] - 1].append((k, v))
        orig, reply = dict(tuples[0]), dict(tuples[1])
        if "src" not in orig or "src" not in reply or ":" in orig["src"]:
            continue
        if proto == 1:
            o = (orig["src"], orig["dst"], int(orig["id"]), int(orig["type"]) << 8 | int(orig["code"]))
            r = (reply["src"], reply["dst"], int(reply["id"]), int(reply["type"]) << 8 | int(reply["code"]))
        else:
            o = (orig["src"], orig["dst"], int(orig.get("sport", 0)), int(orig.get("dport", 0)))
            r = (reply["src"], reply["dst"], int(reply.get("sport", 0)), int(reply.get("dport", 0)))
        out.append((proto, o, r))
    return out


def expected_events(entries):
    events = collections.Counter()
    for proto, o, r in entries:
        if proto == 1:
            post = (r[1], r[0], r[2], o[3])
            translated = (r[1], r[0], r[2]) != (o[0], o[1], o[2])
        else:
            post = (r[1], r[0], r[3], r[2])
            translated = post != o
        if not translated:
            continue
        for event in (1, 2):
            events[(event, proto) + o + post] += 1
    return events


def tshark(pcap, port, fields):
    cmd = ["tshark", "-r", pcap, "-d", f"udp.port=={port},cflow", "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    malformed = subprocess.run(["tshark", "-r", pcap, "-d", f"udp.port=={port},cflow", "-Y", "_ws.malformed"],
                               capture_output=True, text=True, check=True).stdout.strip()
    rows = []
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        lists = [c.split("|") if c else [] for c in cols]
        n = max((len(x) for x in lists), default=0)
        if n == 0:
            continue
        if any(len(x) != n for x in lists):
            raise SystemExit(f"FAIL: fields do not line up in a datagram: {line}")
        rows.extend(zip(*lists))
    return rows, malformed


def main():
    ct_path, pcap, port, protocol = sys.argv[1:5]
    protocol = int(protocol)
    entries = conntrack_entries(ct_path)
    want = expected_events(entries)
    if not want:
        raise SystemExit("FAIL: the conntrack table had no translated IPv4 connection: the test set-up is wrong")
    got = collections.Counter()
    if protocol in (9, 10):
        fields = ["cflow.nat_event", "cflow.protocol", "cflow.srcaddr", "cflow.dstaddr", "cflow.srcport",
                  "cflow.dstport", "cflow.post_natsource_ipv4_address", "cflow.post_natdestination_ipv4_address",
                  "cflow.post_naptsource_transport_port", "cflow.post_naptdestination_transport_port",
                  "cflow.observation_time_milliseconds"]
        rows, malformed = tshark(pcap, port, fields)
        for r in rows:
            event, proto, sa, da, sp, dp, nsa, nda, nsp, ndp, when = r
            if not when:
                raise SystemExit(f"FAIL: a NAT record without observationTimeMilliseconds: {r}")
            got[(int(event), int(proto), sa, da, int(sp), int(dp), nsa, nda, int(nsp), int(ndp))] += 1
    else:
        # v5 pseudo-records (reference §4.2): one per translated side; SYN|ACK create, FIN|RST destroy.
        fields = ["cflow.tcpflags", "cflow.protocol", "cflow.srcaddr", "cflow.dstaddr", "cflow.srcport",
                  "cflow.dstport", "cflow.nexthop", "cflow.srcas", "cflow.dstas", "cflow.packets", "cflow.octets"]
        rows, malformed = tshark(pcap, port, fields)
        v5_want = collections.Counter()
        for key, n in want.items():
            event, proto, sa, da, sp, dp, nsa, nda, nsp, ndp = key
            flags = 0x12 if event == 1 else 0x05
            if (nsa, nsp) != (sa, sp):
                v5_want[(flags, proto, sa, nda, sp, ndp, nsa, nsp, 0)] += n
            if (nda, ndp) != (da, dp):
                v5_want[(flags, proto, sa, nda, sp, ndp, da, 0, dp)] += n
        for r in rows:
            flags, proto, sa, da, sp, dp, nh, sas, das, pk, by = r
            if int(pk) != 0 or int(by) != 0:
                raise SystemExit(f"FAIL: a v5 NAT pseudo-record with traffic counts: {r}")
            got[(int(flags, 0), int(proto), sa, da, int(sp), int(dp), nh, int(sas), int(das))] += 1
        want = v5_want
    if malformed:
        raise SystemExit(f"FAIL: tshark found malformed export packets:\n{malformed}")
    missing = want - got
    extra = got - want
    for k in sorted(missing):
        print(f"missing: {k} x{missing[k]}")
    for k in sorted(extra):
        print(f"unexpected: {k} x{extra[k]}")
    print(f"natcheck: protocol {protocol}: {len(entries)} conntrack entries, "
          f"{sum(want.values())} NAT records expected, {sum(got.values())} exported, "
          f"{sum(missing.values())} missing, {sum(extra.values())} unexpected")
    if missing or extra:
        raise SystemExit("FAIL: the exported NAT events differ from the conntrack table")


if __name__ == "__main__":
    main()
