#!/usr/bin/env python3
"""Checks for the control tests (stdlib only). Every subcommand prints what it compared and
exits 0 when everything holds, 1 otherwise (each difference on its own "MISMATCH" line).

  arrived  --export F --port P --sports A-B --packets N --after T [--within S]
           [--version V] [--source-id I] [--wait]
      The tshark export lines (lib.sh ctl_start_tshark_lo) show a data record for every
      source port A..B (N packets each) in a datagram to port P sent after Unix time T (and
      none to any port before T), the first of them no later than T + S (default 2.5) s; with --version/--source-id
      those datagrams have that NetFlow version / v9 source id. --wait: exit 2 (not yet)
      instead of 1 while the records have not all shown up.
  versions --export F --port P --after T --version V [--before T2]
      Every NetFlow datagram to P sent after T (and before T2) has version V; prints the
      versions seen before T too.
  silent   --export F --port P --after T
      No NetFlow datagram to P was sent after T.
  stat     --text F --json F --snmp F [--settled]
      The three views of `netflowctl stat` taken at the same moment agree, and each adds up;
      --settled: no record waits to be sent, so records = delivered + lost flow records.
  flows    --flows-json F --expect FLOWS.jsonl [--ping SRC,DST,N]
      `netflowctl flows --json` lists exactly the expected flows (key, packets, bytes).
  totals   --nfdump F --expect FLOWS.jsonl [--capture-counts F]
      nfdump's records summed per flow equal the generator's totals exactly (and the
      packets a capture counted per source port, when given).
"""
import argparse
import collections
import json
import re
import sys

FAILED = []


def mismatch(msg):
    FAILED.append(msg)
    print("MISMATCH: " + msg)


def ports_range(s):
    a, _, b = s.partition("-")
    return list(range(int(a), int(b or a) + 1))


def export_lines(path):
    """(time, dstport, version, source_id, [(sport, dport, packets, octets, proto)]) per datagram."""
    out = []
    with open(path) as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            c += [""] * (11 - len(c))
            t, port, ver, _tmpl, sports, dports, pkts, octs, protos, source_id, od_id = c[:11]
            if not ver:
                continue  # a marker datagram
            recs = []
            if sports:
                cols = [x.split(",") for x in (sports, dports, pkts, octs, protos)]
                n = min(len(x) for x in cols)
                for i in range(n):
                    recs.append(tuple(int(x[i]) for x in cols))
            sid = source_id or od_id
            out.append((float(t), int(port), int(ver.split(",")[0]), int(sid.split(",")[0]) if sid else None,
                        _tmpl, recs))
    return out


def cmd_arrived(a):
    want = set(ports_range(a.sports))
    found = {}
    early = {}
    for t, port, ver, sid, _tmpl, recs in export_lines(a.export):
        for sport, _dport, pkts, _octs, _proto in recs:
            if sport not in want:
                continue
            if t < a.after:
                early.setdefault(sport, t)
            elif port == a.port and sport not in found:
                found[sport] = (t, ver, sid, pkts)
    if early:
        mismatch(f"source port(s) {sorted(early)} exported already {min(early.values()) - a.after:.3f} s before "
                 f"{a.after:.3f} (before the change that should export them)")
    missing = sorted(want - set(found))
    if missing:
        if a.wait:
            return 2
        mismatch(f"port {a.port}: no record of source port(s) {missing} after {a.after:.3f} "
                 f"(found: {sorted(found)})")
        return 1
    first = min(v[0] for v in found.values())
    last = max(v[0] for v in found.values())
    print(f"port {a.port}: records of {a.sports} sent {first - a.after:.3f}..{last - a.after:.3f} s after "
          f"{a.after:.3f}")
    if first - a.after > a.within:
        mismatch(f"port {a.port}: the records of {a.sports} were sent {first - a.after:.3f} s after "
                 f"{a.after:.3f}, later than {a.within} s")
    for sport, (t, ver, sid, pkts) in sorted(found.items()):
        if pkts != a.packets:
            mismatch(f"source port {sport}: {pkts} packets, expected {a.packets}")
        if a.version is not None and ver != a.version:
            mismatch(f"source port {sport}: in a NetFlow version {ver} datagram, expected {a.version}")
        if a.source_id is not None and sid != a.source_id:
            mismatch(f"source port {sport}: source id / observation domain {sid}, expected {a.source_id}")
    return 1 if FAILED else 0


def cmd_versions(a):
    before = collections.Counter()
    after = collections.Counter()
    for t, port, ver, _sid, _tmpl, _recs in export_lines(a.export):
        if port != a.port:
            continue
        if t < a.after:
            before[ver] += 1
        elif a.before is None or t < a.before:
            after[ver] += 1
    print(f"port {a.port}: datagrams before {a.after:.3f} by version {dict(before)}, after {dict(after)}")
    if not after:
        mismatch(f"port {a.port}: no NetFlow datagram after {a.after:.3f}")
    for v, n in after.items():
        if v != a.version:
            mismatch(f"port {a.port}: {n} datagram(s) of version {v} after {a.after:.3f}, expected only {a.version}")
    return 1 if FAILED else 0


def cmd_silent(a):
    late = [(t, ver) for t, port, ver, _s, _tm, _r in export_lines(a.export) if port == a.port and t >= a.after]
    print(f"port {a.port}: {len(late)} NetFlow datagram(s) after {a.after:.3f}")
    if late:
        mismatch(f"port {a.port}: datagrams still sent after {a.after:.3f}: {late[:5]}")
    return 1 if FAILED else 0


# --------------------------------------------------------------------------- stat
def ints(pattern, text, what):
    m = re.search(pattern, text, re.M)
    if not m:
        mismatch(f"stat text: no {what} line matching {pattern!r}")
        return None
    return [float(x) if "." in x else int(x) for x in m.groups()]


def eq(what, a, b):
    if a != b:
        mismatch(f"{what}: {a} != {b}")


def dropped(j):
    """The packets stat --json says were dropped (sampling and own export are not drops)."""
    return j["non_ip"] + j["malformed"] + j["maxflows_dropped"] + j["alloc_dropped"] + j["queue_drops"]


def cmd_stat(a):
    text = open(a.text).read()
    j = json.load(open(a.json))
    snmp_lines = [l.split() for l in open(a.snmp) if l.strip()]
    snmp = {l[0]: l[1:] for l in snmp_lines}
    x = j["export"]
    workers, sources, dests = j["workers"], j["sources"], j["destinations"]
    print(f"json: observed {j['observed']} metered {j['metered_packets']} flows_active {j['flows_active']} "
          f"records {x['records']} delivered {x['delivered']} lost {x['lost_datagrams']} "
          f"destinations {len(dests)} workers {len(workers)}")

    # --- the text view against the JSON view
    v = ints(r"^.*, protocol (\d+) \(", text, "protocol")
    if v:
        eq("protocol (text, json)", v[0], j["protocol"])
    if j["protocol"] != 5:
        v = ints(r"\(templates (\d+)\)", text, "templates")
        if v:
            eq("templates (text, json)", v[0], x["templates"])
    v = ints(r"^Timeouts: active (\d+)s, inactive (\d+)s\. Maxflows (\d+)$", text, "Timeouts")
    if v:
        eq("timeouts/maxflows (text, json)", v, [j["active_timeout"], j["inactive_timeout"], j["maxflows"]])
    v = ints(r"^Flows: active (\d+) \(peak (\d+)\), mem (\d+)K, uptime (\d+)s\.$", text, "Flows")
    if v:
        eq("active flows (text, json)", v[0], j["flows_active"])
        eq("memory K (text, json)", v[2], j["memory_bytes"] // 1024)
        if v[1] < v[0]:
            mismatch(f"peak flows {v[1]} below active flows {v[0]}")
    v = ints(r"^Hash: size (\d+), metric (\d+\.\d+) \[(\d+\.\d+), (\d+\.\d+), (\d+\.\d+)\]\. "
             r"InHash: (\d+) pkt, (\d+) K\.$", text, "Hash")
    if v:
        eq("hash size (text, sum of json workers' hash_slots)", v[0], sum(w["hash_slots"] for w in workers))
        eq("hash metric (text, json)", f"{v[1]:.2f}", f"{j['hash_metric']:.2f}")
        eq("InHash pkt (text, json metered_packets)", v[5], j["metered_packets"])
        eq("InHash K (text, json metered_bytes)", v[6], j["metered_bytes"] // 1024)
        for k, avg in zip(("1m", "5m", "15m"), v[2:5]):
            if avg < 1:
                mismatch(f"hash metric {k} average {avg} below 1.00, its least possible value")
    # Rates are resampled every 4 s, so the views (taken one after the other) may straddle a
    # sample: only their form and sense are checked here, the values in unit_pipeline.RateMeter.
    v = ints(r"^Rate: (\d+) bits/sec, (\d+) packets/sec; Avg 1 min: (\d+) bps, (\d+) pps; "
             r"5 min: (\d+) bps, (\d+) pps$", text, "Rate")
    rates = j.get("rates")
    if not isinstance(rates, dict) or not isinstance(rates.get("measured"), bool):
        mismatch(f"json: no rates object with 'measured': {rates!r}")
    else:
        for k in ("in_pps", "in_bps", "out_bytes_per_s", "in_pps_1m", "in_bps_1m", "in_pps_5m", "in_bps_5m"):
            if not isinstance(rates.get(k), (int, float)) or rates[k] < 0:
                mismatch(f"json rates.{k} = {rates.get(k)!r}")
        for k in ("hash_metric", "hash_metric_1m", "hash_metric_5m", "hash_metric_15m"):
            if not isinstance(rates.get(k), (int, float)) or rates[k] < 1:
                mismatch(f"json rates.{k} = {rates.get(k)!r}, below 1")
    line = r" (\d+) (\d+) (\d+) \[(\d+\.\d+)\], (\d+) (\d+) (\d+), traffic: (\d+), (\d+) MB, drop: (\d+), (\d+) K$"
    v = ints(r"^Total   " + line, text, "Total")
    if v:
        eq("Total new (text, json flows_created)", v[2], j["flows_created"])
        eq("Total malformed (text, json)", v[4], j["malformed"])
        eq("Total alloc (text, json)", v[5], j["alloc_dropped"])
        eq("Total maxflows (text, json)", v[6], j["maxflows_dropped"])
        eq("Total traffic pkt (text, json metered_packets)", v[7], j["metered_packets"])
        eq("Total traffic MB (text, json)", v[8], j["metered_bytes"] >> 20)
        eq("Total drop pkt = alloc + maxflows", v[9], v[5] + v[6])
    for i, w in enumerate(workers):
        v = ints(rf"^worker{i}\s+" + line[1:], text, f"worker{i}")
        if v:
            eq(f"worker{i} new (text, json)", v[2], w["flows_created"])
            eq(f"worker{i} traffic pkt (text, json)", v[7], w["packets"])
            eq(f"worker{i} alloc (text, json)", v[5], w["alloc_dropped"])
            eq(f"worker{i} maxflows (text, json)", v[6], w["maxflows_dropped"])
    v = ints(r"^Export: Rate \d+ bytes/s; Total (\d+) pkts, (\d+) MB, (\d+) flows; Errors (\d+) pkts; "
             r"Traffic lost (\d+) pkts, (\d+) Kbytes, (\d+) flows\.$", text, "Export")
    if v:
        eq("Export Total pkts (text, json delivered)", v[0], x["delivered"])
        eq("Export MB (text, json delivered_bytes)", v[1], x["delivered_bytes"] >> 20)
        eq("Export Errors pkts (text, json lost_datagrams)", v[3], x["lost_datagrams"])
        eq("Export lost flows (text, json lost_flows)", v[6], x["lost_flows"])
        # Every record the encoder produced was delivered or lost (none waits in a partly filled
        # datagram: the caller made sure of that).
        if a.settled:
            eq("records (json) = delivered flows (text) + lost flows", x["records"], v[2] + v[6])
        eq("datagrams (json) = delivered + lost datagrams", x["datagrams"], x["delivered"] + x["lost_datagrams"])
    for i, d in enumerate(dests):
        # Runs of datagrams: never more system calls than datagrams (gso may have been turned off
        # after some runs, by a kernel that refused one).
        if not isinstance(d["gso"], bool):
            mismatch(f"sock{i}: gso {d['gso']!r} is not a boolean")
        if d["gso_sends"] > d["sent"]:
            mismatch(f"sock{i}: gso_sends {d['gso_sends']} > sent {d['sent']}")
        if d["connected"]:
            v = re.search(rf"^sock{i}: (\S+), sndbuf (\d+); sent (\d+); err: sndbuf reached (\d+), connect (\d+), "
                          rf"cberr (\d+), other (\d+)$", text, re.M)
            if not v:
                mismatch(f"stat text: no sock{i} line")
                continue
            eq(f"sock{i} (text, json)", [v.group(1)] + [int(g) for g in v.groups()[1:]],
               [d["destination"], d["sndbuf"], d["sent"], d["err_sndbuf"], d["err_connect"], d["err_cberr"],
                d["err_other"]])
        else:
            v = ints(rf"^sock{i}: \S+ unconnected \((\d+) attempts\)\.$", text, f"sock{i}")
            if v:
                eq(f"sock{i} connect attempts (text, json)", v[0], d["err_connect"])
    for i, s in enumerate(sources):
        v = re.search(rf"^source{i}: (.*): frames (\d+), not IP (\d+), malformed (\d+), kernel drops (\d+) "
                      rf"\(overruns (\d+)\), queue drops (\d+), own export (\d+), handed on (\d+)\b", text, re.M)
        if not v:
            mismatch(f"stat text: no source{i} line")
            continue
        eq(f"source{i} (text, json)", [v.group(1)] + [int(g) for g in v.groups()[1:]],
           [s["name"], s["frames"], s["non_ip"], s["malformed"], s["source_drops"], s["source_overruns"],
            s["queue_drops"], s["own_export"], s["handed_on"]])
    # Terms added later (" + sampled out N") must add up too; their JSON key is their name.
    m = re.search(r"^Accounting: observed \d+ = .* \+ own export \d+((?: \+ [a-z ]+ \d+)*)$", text, re.M)
    extra = {}
    for name, n in re.findall(r" \+ ([a-z ]+) (\d+)", m.group(1) if m else ""):
        extra[name.replace(" ", "_")] = int(n)
        if name.replace(" ", "_") in j:
            eq(f"Accounting {name} (text, json)", int(n), j[name.replace(" ", "_")])
    v = ints(r"^Accounting: observed (\d+) = metered (\d+) \+ dropped (\d+) \(not IP (\d+), malformed (\d+), "
             r"maxflows (\d+), alloc (\d+), queue (\d+)\) \+ own export (\d+)", text, "Accounting")
    if v:
        eq("Accounting (text, json)", v, [j["observed"], j["metered_packets"], dropped(j),
                                          j["non_ip"], j["malformed"], j["maxflows_dropped"], j["alloc_dropped"],
                                          j["queue_drops"], j["own_export"]])
        eq("Accounting adds up: observed = metered + dropped + own export" + "".join(f" + {k}" for k in extra),
           v[0], v[1] + v[2] + v[8] + sum(extra.values()))
        eq("Accounting: dropped = not IP + malformed + maxflows + alloc + queue", v[2], sum(v[3:8]))

    # --- the JSON view adds up
    eq("json flows_active = sum over workers", j["flows_active"], sum(w["flows_active"] for w in workers))
    eq("json flows_created = sum over workers", j["flows_created"], sum(w["flows_created"] for w in workers))
    eq("json metered_packets = sum over workers", j["metered_packets"], sum(w["packets"] for w in workers))
    eq("json metered_bytes = sum over workers", j["metered_bytes"], sum(w["bytes"] for w in workers))
    eq("json observed = sum over sources", j["observed"], sum(s["frames"] for s in sources))
    for k in ("non_ip", "malformed", "source_drops", "queue_drops", "own_export"):
        eq(f"json {k} = sum over sources", j[k], sum(s[k] for s in sources))

    # --- the SNMP view against the JSON view
    def s1(name):
        if name not in snmp:
            mismatch(f"stat --snmp: no {name}")
            return None
        return float(snmp[name][0]) if "." in snmp[name][0] else int(snmp[name][0])

    for name in ("inBitRate", "inPacketRate", "outByteRate"):  # rates: see the Rate line above
        if not isinstance(s1(name), int) or s1(name) < 0:
            mismatch(f"stat --snmp: {name} {snmp.get(name)!r} is not a count")
    if snmp_lines and snmp_lines[0][0] != "inBitRate":
        mismatch(f"stat --snmp: first line {snmp_lines[0]!r}, upstream's order starts with inBitRate")
    eq("snmp inFlows", s1("inFlows"), j["flows_created"])
    eq("snmp inPackets", s1("inPackets"), j["metered_packets"])
    eq("snmp inBytes", s1("inBytes"), j["metered_bytes"])
    eq("snmp hashMetric", f"{s1('hashMetric'):.2f}", f"{j['hash_metric']:.2f}")
    eq("snmp hashMemory", s1("hashMemory"), j["memory_bytes"])
    eq("snmp hashFlows", s1("hashFlows"), j["flows_active"])
    eq("snmp dropPackets", s1("dropPackets"), dropped(j))
    eq("snmp outPackets", s1("outPackets"), x["delivered"])
    eq("snmp outBytes", s1("outBytes"), x["delivered_bytes"])
    if a.settled:
        eq("snmp outFlows + lostFlows = json records", (s1("outFlows") or 0) + (s1("lostFlows") or 0), x["records"])
    eq("snmp lostFlows", s1("lostFlows"), x["lost_flows"])
    eq("snmp errTotal", s1("errTotal"), sum(d["err_sndbuf"] + d["err_cberr"] + d["err_other"] for d in dests))
    for i, w in enumerate(workers):
        v = snmp.get(f"worker{i}")
        if v is None:
            mismatch(f"stat --snmp: no worker{i}")
            continue
        eq(f"snmp worker{i} (flows, packets, bytes)", [int(v[0]), int(v[1]), int(v[2])],
           [w["flows_created"], w["packets"], w["bytes"]])
        eq(f"snmp worker{i} (drops, maxflows, alloc)", [int(v[4]), int(v[6]), int(v[7])],
           [w["maxflows_dropped"] + w["alloc_dropped"], w["maxflows_dropped"], w["alloc_dropped"]])
    for i, d in enumerate(dests):
        v = snmp.get(f"sock{i}")
        if v is None:
            mismatch(f"stat --snmp: no sock{i}")
            continue
        eq(f"snmp sock{i}", [v[0]] + [int(y) for y in v[1:]],
           [d["destination"], 1 if d["connected"] else 0, d["err_connect"], d["err_sndbuf"], d["err_cberr"],
            d["err_other"], d["sndbuf"]])
    return 1 if FAILED else 0


# -------------------------------------------------------------------------- flows
def load_expected(path):
    exp = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            key = (r["proto"], r["src"], r["sport"], r["dst"], r["dport"])
            p, b = exp.get(key, (0, 0))
            exp[key] = (p + r["packets"], b + r["bytes"])
    return exp


def cmd_flows(a):
    flows = json.load(open(a.flows_json))
    if not isinstance(flows, list):
        mismatch("flows --json is not a list")
        return 1
    got = {}
    for r in flows:
        key = (r["proto"], r["src"], r["sport"], r["dst"], r["dport"])
        if key in got:
            mismatch(f"flow {key} listed twice")
        got[key] = (r["packets"], r["bytes"])
        if r["first_us"] > r["last_us"]:
            mismatch(f"flow {key}: first_us {r['first_us']} after last_us {r['last_us']}")
    exp = load_expected(a.expect)
    if a.ping:
        src, dst, n = a.ping.split(",")
        # ICMP echo request: source port 0, destination port type 8 << 8 | code 0.
        exp[(1, src, 0, dst, 8 << 8)] = (int(n), None)
    print(f"flows --json: {len(got)} flows listed, {len(exp)} expected")
    for key, (p, b) in sorted(exp.items(), key=str):
        if key not in got:
            mismatch(f"flow {key} not listed")
            continue
        gp, gb = got[key]
        if gp != p or (b is not None and gb != b):
            mismatch(f"flow {key}: listed {gp} packets {gb} bytes, expected {p} packets {b} bytes")
    for key in sorted(set(got) - set(exp), key=str):
        mismatch(f"flow {key} listed but not expected ({got[key]})")
    return 1 if FAILED else 0


# ------------------------------------------------------------------------- totals
def cmd_totals(a):
    exp = load_expected(a.expect)
    got = collections.defaultdict(lambda: [0, 0, 0])
    with open(a.nfdump) as f:
        for line in f:
            c = line.split()
            if len(c) != 7:
                continue
            key = (int(c[0]) if c[0].isdigit() else {"UDP": 17, "ICMP": 1, "TCP": 6}.get(c[0], c[0]),
                   c[1], int(float(c[2])), c[3], int(float(c[4])))
            got[key][0] += int(c[5])
            got[key][1] += int(c[6])
            got[key][2] += 1
    records = sum(v[2] for v in got.values())
    print(f"nfdump: {records} records of {len(got)} flows; generator: {len(exp)} flows, "
          f"{sum(p for p, _ in exp.values())} packets")
    for key, (p, b) in sorted(exp.items(), key=str):
        g = got.get(key)
        if g is None:
            mismatch(f"flow {key}: no record at the collector (sent {p} packets)")
        elif (g[0], g[1]) != (p, b):
            mismatch(f"flow {key}: collector {g[0]} packets {g[1]} bytes in {g[2]} records, "
                     f"generator {p} packets {b} bytes")
    for key in sorted(set(got) - set(exp), key=str):
        mismatch(f"flow {key} at the collector but never sent ({got[key]})")
    if a.capture_counts:
        cap = {}
        for line in open(a.capture_counts):
            sport, n = line.split()
            cap[int(sport)] = int(n)
        for key, (p, _b) in exp.items():
            if cap.get(key[2], 0) != p:
                mismatch(f"flow {key}: the capture on the router interface saw {cap.get(key[2], 0)} packets, "
                         f"the generator sent {p}")
        print(f"capture: {sum(cap.values())} packets of {len(cap)} source ports")
    split = sum(1 for v in got.values() if v[2] > 1)
    print(f"{split} flow(s) exported in more than one record")
    return 1 if FAILED else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("arrived")
    p.add_argument("--export", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sports", required=True)
    p.add_argument("--packets", type=int, required=True)
    p.add_argument("--after", type=float, required=True)
    p.add_argument("--within", type=float, default=2.5)
    p.add_argument("--version", type=int)
    p.add_argument("--source-id", type=int)
    p.add_argument("--wait", action="store_true")
    p = sub.add_parser("versions")
    p.add_argument("--export", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--after", type=float, required=True)
    p.add_argument("--before", type=float)
    p.add_argument("--version", type=int, required=True)
    p = sub.add_parser("silent")
    p.add_argument("--export", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--after", type=float, required=True)
    p = sub.add_parser("stat")
    p.add_argument("--text", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--snmp", required=True)
    p.add_argument("--settled", action="store_true")
    p = sub.add_parser("flows")
    p.add_argument("--flows-json", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--ping")
    p = sub.add_parser("totals")
    p.add_argument("--nfdump", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--capture-counts")
    a = ap.parse_args()
    return {"arrived": cmd_arrived, "versions": cmd_versions, "silent": cmd_silent, "stat": cmd_stat,
            "flows": cmd_flows, "totals": cmd_totals}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
