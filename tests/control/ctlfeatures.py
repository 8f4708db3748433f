#!/usr/bin/env python3
"""The checks of control.features (features.sh) on what it left in its scratch directory
(stdlib only, plus tshark to decode the capture):

  ctlfeatures.py WORK R0_IFINDEX SNMP_BASE

WORK holds: phases ("NAME.pre UNIXTIME" just before each phase's `set`, "NAME UNIXTIME" when
it had returned: det, hash, none, aggr, snmp, v9; then "end"); the generator's flows per phase (det/hash/none/aggr/snmp/v9.jsonl); stat
snapshots; nf.records (nfdump: proto sa sp da dp pkts bytes smk dmk in); lo.pcapng (the
IPFIX, at the end v9, export to 9991, decoded here with tshark -T json: templates, options records and data
records, each data record with the field list of the template it was decoded with).
Prints what it compared; each difference is a "MISMATCH:" line; exit 1 if there was any.
"""
import collections
import ipaddress
import json
import os
import re
import subprocess
import sys

FAILED = []
PORT = 9991


def mismatch(msg):
    FAILED.append(msg)
    print("MISMATCH: " + msg)


def check(cond, msg):
    if not cond:
        mismatch(msg)
    return cond


def load_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def pairs(items):
    return items  # keep duplicate keys: a list of (key, value)


def sub(v):
    return v if isinstance(v, list) else []


def decode(pcap):
    """Datagrams in order: (time, [event]) with events ("template", id, [types], options),
    ("data", set id, {field: value}, template types)."""
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-d", f"udp.port=={PORT},cflow", "-Y", f"udp.dstport == {PORT}",
                          "-T", "json"], check=True, capture_output=True, text=True).stdout
    frames = json.loads(out, object_pairs_hook=pairs)
    templates = {}
    result = []
    for fr in frames:
        layers = dict(dict(fr)["_source"])["layers"]
        layers = dict(layers)
        t = float(dict(layers["frame"])["frame.time_epoch"])
        events = []
        for key, val in sub(layers.get("cflow")):
            if not key.startswith(("Set ", "FlowSet ")):
                continue
            if "Template" in key:
                for tk, tv in sub(val):
                    if not isinstance(tv, list):
                        continue
                    fields = dict((k, v) for k, v in tv if not isinstance(v, list))
                    tid = int(fields["cflow.template_id"])
                    types = [int(next(v for k, v in fv if k.endswith("field_type")))
                             for fk, fv in tv if isinstance(fv, list) and fk.startswith("Field")]
                    templates[tid] = types
                    events.append(("template", tid, types, "Options" in key))
            else:
                sid = int(dict((k, v) for k, v in val if not isinstance(v, list))["cflow.flowset_id"])
                for fk, fv in sub(val):
                    if fk.startswith("Flow ") and isinstance(fv, list):
                        rec = {k: v for k, v in fv if not isinstance(v, list)}
                        events.append(("data", sid, rec, templates.get(sid)))
        result.append((t, int(dict(sub(layers.get("cflow")))["cflow.version"]), events))
    return result


def flow_records(datagrams):
    """Data records of flows: (time, record, template types)."""
    return [(t, rec, types) for t, _v, evs in datagrams for e in evs if e[0] == "data"
            for (_k, _sid, rec, types) in [e] if "cflow.srcport" in rec]


def options_records(datagrams, field):
    return [(t, rec) for t, _v, evs in datagrams for e in evs if e[0] == "data" and field in e[2] for rec in [e[2]]]


def key_of(rec):
    return (int(rec["cflow.protocol"]), rec["cflow.srcaddr"], int(rec["cflow.srcport"]), rec["cflow.dstaddr"],
            int(rec["cflow.dstport"]))


def totals(records):
    tot = collections.defaultdict(lambda: [0, 0, 0])
    for key, pkts, byts in records:
        tot[key][0] += pkts
        tot[key][1] += byts
        tot[key][2] += 1
    return tot


def gen_key(f):
    return (f["proto"], f["src"], f["sport"], f["dst"], f["dport"])


def exact(label, got, want_flows):
    """Every collector flow of the phase is one of the generator's with its exact totals."""
    want = {gen_key(f): (f["packets"], f["bytes"]) for f in want_flows}
    bad = {k: (tuple(v[:2]), want.get(k)) for k, v in got.items() if want.get(k) != tuple(v[:2])}
    check(not bad, f"{label}: {len(bad)} flow(s) not exactly one of the generator's (got, sent): "
          f"{dict(list(bad.items())[:5])}")
    split = [k for k, v in got.items() if v[2] != 1]
    check(not split, f"{label}: flow(s) in more than one record: {split[:5]}")


def main():
    work, r0_ifindex, snmp_base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    P = lambda name: os.path.join(work, name)  # noqa: E731
    phases = {}
    for line in open(P("phases")):
        name, t = line.split()
        phases[name] = float(t)
    gen = {name: load_jsonl(P(f"{name}.jsonl")) for name in ("det", "hash", "none", "aggr", "snmp", "v9")}
    datagrams = decode(P("lo.pcapng"))
    recs = flow_records(datagrams)
    # The two collectors' views of the flow records: tshark (lo) and nfcapd.
    views = {"tshark": [], "nfdump": []}
    for _t, r, _types in recs:
        views["tshark"].append((key_of(r), int(r["cflow.packets"]), int(r["cflow.octets"])))
    nf_in = []
    for line in open(P("nf.records")):
        c = line.split()
        key = (int(c[0]), c[1], int(c[2]), c[3], int(c[4]))
        views["nfdump"].append((key, int(c[5]), int(c[6])))
        nf_in.append((key, int(c[9])))
    print(f"records: tshark {len(views['tshark'])}, nfdump {len(views['nfdump'])}")
    check(sorted(views["tshark"]) == sorted(views["nfdump"]),
          "tshark and nfdump disagree on the flow records: "
          f"{sorted(set(views['tshark']) ^ set(views['nfdump']))[:6]}")
    by_dport = lambda view, port: totals([r for r in views[view] if r[0][4] == port])  # noqa: E731

    def recs_to(port):
        return [(t, r, types) for t, r, types in recs if int(r["cflow.dstport"]) == port]

    def opts_between(field, a, b):
        """Options records with FIELD sent from just before phase A's set to just before B's."""
        return [r for t, r in options_records(datagrams, field) if phases[a + ".pre"] <= t < phases[b]]

    # ------------------------------------------------------------ 1. deterministic:4
    st = json.load(open(P("det.stat.json")))
    text = open(P("det.stat.txt")).read()
    m = re.search(r"^Flow sampling mode deterministic one-out-of 4\. Flows selected (\d+), discarded (\d+)\. "
                  r"Pkts selected (\d+), discarded (\d+)\.$", text, re.M)
    sel = None
    if check(m, "det: stat has no 'Flow sampling mode deterministic one-out-of 4. Flows selected ...' line: "
             + repr([l for l in text.splitlines() if l.startswith("Flow sampling")])):
        sel, dis, psel, pdis = map(int, m.groups())
        # Counted per worker shard: each selects the 4th, 8th, ... flow it created.
        want_sel = sum(w["flows_created"] // 4 for w in st["workers"])
        print(f"det: stat selected {sel} discarded {dis} (pkts {psel} {pdis}); per-worker flows "
              f"{[w['flows_created'] for w in st['workers']]} -> {want_sel} expected")
        check(sel + dis == 200, f"det: selected {sel} + discarded {dis} != 200 flows")
        check(sel == want_sel, f"det: {sel} flows selected, expected {want_sel} (every 4th per worker)")
        check((psel, pdis) == (3 * sel, 3 * dis), f"det: packets selected/discarded {psel}/{pdis}, "
              f"expected {3 * sel}/{3 * dis}")
        check((st["sampler_flows_observed"], st["sampler_flows_selected"]) == (200, sel),
              f"det: stat --json sampler_flows_observed/selected {st['sampler_flows_observed']}/"
              f"{st['sampler_flows_selected']}, expected 200/{sel}")
        check(st["sampler"] == "deterministic:4", f"det: stat --json sampler {st['sampler']!r}")
    for view in views:
        got = by_dport(view, 5001)
        print(f"det ({view}): {len(got)} flows exported of 200")
        exact(f"det ({view})", got, gen["det"])
        if sel is not None:
            check(len(got) == sel, f"det ({view}): {len(got)} flows exported, stat says {sel} selected")
    for t, r, types in recs_to(5001):
        if not check(types and 302 in types and r.get("cflow.selector_id") == "1",
                     f"det: a record without selectorId 1 (template {types}, selector {r.get('cflow.selector_id')})"):
            break
    sel_opts = opts_between("cflow.flow_selector_algorithm", "det", "hash.pre")
    print(f"det: selector options records {sel_opts}")
    check(sel_opts and all((r.get("cflow.selector_id"), r["cflow.flow_selector_algorithm"],
                            r.get("cflow.sampling_flow_interval"), r.get("cflow.sampling_flow_spacing"))
                           == ("1", "1", "1", "3") for r in sel_opts),
          "det: no selector options record (302=1, 390=1, 396=1, 397=3) after sampler=deterministic:4")

    # ------------------------------------------------------------------ 2. hash:2
    b = json.load(open(P("hash.before.json")))
    c = json.load(open(P("hash.cached.json")))
    a = json.load(open(P("hash.stat.json")))
    d = {k: c[k] - b[k] for k in ("observed", "metered_packets", "sampled_out", "flows_created", "non_ip",
                                  "malformed", "maxflows_dropped", "alloc_dropped", "queue_drops", "own_export")}
    dropped = d["non_ip"] + d["malformed"] + d["maxflows_dropped"] + d["alloc_dropped"] + d["queue_drops"]
    print(f"hash: deltas {d}")
    check(d["observed"] == 600, f"hash: observed {d['observed']} packets, sent 600")
    check(d["sampled_out"] > 0, "hash: sampled_out did not grow")
    check(d["metered_packets"] + d["sampled_out"] + dropped + d["own_export"] == d["observed"],
          f"hash: metered {d['metered_packets']} + sampled_out {d['sampled_out']} + dropped {dropped} != "
          f"observed {d['observed']}")
    check(c["metered_packets"] + c["sampled_out"] + c["non_ip"] + c["malformed"] + c["maxflows_dropped"]
          + c["alloc_dropped"] + c["queue_drops"] + c["own_export"] == c["observed"], "hash: stat --json Accounting does not add up")
    check(d["metered_packets"] % 3 == 0, f"hash: {d['metered_packets']} packets metered, not whole flows of 3")
    check(60 <= d["flows_created"] <= 140, f"hash: {d['flows_created']} of 200 flows metered, expected about 100")
    htext = open(P("hash.stat.txt")).read()
    m = re.search(r"^Flow sampling mode hash one-out-of 2\. Pkts selected (\d+), discarded (\d+)\.$", htext, re.M)
    if check(m, "hash: stat has no 'Flow sampling mode hash one-out-of 2. ...' line"):
        check((int(m.group(1)), int(m.group(2))) == (c["metered_packets"], c["sampled_out"]),
              f"hash: stat text selected/discarded {m.groups()} != json metered/sampled_out "
              f"{c['metered_packets']}/{c['sampled_out']}")
    for view in views:
        got = by_dport(view, 5002)
        print(f"hash ({view}): {len(got)} flows exported of 200, {sum(v[0] for v in got.values())} packets")
        exact(f"hash ({view})", got, gen["hash"])
        check(len(got) == d["flows_created"], f"hash ({view}): {len(got)} flows exported, "
              f"{d['flows_created']} metered")
        check(sum(v[0] for v in got.values()) == d["metered_packets"],
              f"hash ({view}): exported packets != the {d['metered_packets']} metered")
    for t, r, types in recs_to(5002):
        if not check(types and 302 in types and r.get("cflow.selector_id") == "3",
                     f"hash: a record without selectorId 3 (template {types}, selector {r.get('cflow.selector_id')})"):
            break
    sel_opts = opts_between("cflow.flow_selector_algorithm", "hash", "none.pre")
    print(f"hash: selector options records {sel_opts}")
    check(sel_opts and all((r.get("cflow.selector_id"), r["cflow.flow_selector_algorithm"],
                            r.get("cflow.sampling_size"), r.get("cflow.sampling_population"))
                           == ("3", "3", "1", "2") for r in sel_opts),
          "hash: no selector options record (302=3, 390=3, 309=1, 310=2) after sampler=hash:2")
    check(a["flows_active"] == 0, f"hash: {a['flows_active']} flows still active after flush=1")

    # -------------------------------------------------------------- 3. no sampler
    for view in views:
        got = by_dport(view, 5003)
        print(f"none ({view}): {len(got)} flows exported of 40")
        exact(f"none ({view})", got, gen["none"])
        check(len(got) == 40, f"none ({view}): {len(got)} flows exported, sent 40")
    bad = [types for t, r, types in recs_to(5003) if not types or 302 in types or "cflow.selector_id" in r]
    check(not bad, f"none: records still carry selectorId after sampler= (templates {bad[:1]})")
    check(not [r for t, r in options_records(datagrams, "cflow.flow_selector_algorithm")
               if phases["none"] <= t < phases["v9.pre"]], "none: selector options records after sampler=")
    plain = opts_between("cflow.sampling_interval", "none", "v9.pre")
    check(plain and all(r["cflow.sampling_interval"] == "1" for r in plain),
          f"none: no samplingInterval 1 options record after sampler= ({plain[:2]})")

    # ------------------------------------------------------------- 4. aggregation
    net, cut = ipaddress.ip_network("10.79.0.0/16"), 24

    def aggr_addr(s):
        ip = ipaddress.ip_address(s)
        if ip in net:
            return str(ipaddress.ip_network(f"{s}/{cut}", strict=False).network_address), cut
        return s, 0

    def aggr_port(p):
        return 1024 if 1024 <= p <= 65535 else p

    want = collections.defaultdict(lambda: [0, 0])
    masks = {}
    for f in gen["aggr"]:
        (sa, sm), (da, dm) = aggr_addr(f["src"]), aggr_addr(f["dst"])
        k = (f["proto"], sa, aggr_port(f["sport"]), da, aggr_port(f["dport"]))
        want[k][0] += f["packets"]
        want[k][1] += f["bytes"]
        masks[k] = (sm, dm)
    print(f"aggr: {len(gen['aggr'])} generator flows map to {len(want)} aggregated keys")
    for view in views:
        # The phase's records: everything not to one of the other phases' ports.
        got = totals([r for r in views[view] if r[0][4] not in (5001, 5002, 5003, 5005, 5006)])
        g = {k: v[:2] for k, v in got.items()}
        w = {k: v for k, v in want.items()}
        check(g == w, f"aggr ({view}): per-key totals differ (key: got, expected): "
              f"{ {k: (g.get(k), w.get(k)) for k in set(g) | set(w) if g.get(k) != w.get(k)} }")
    for t, r, types in recs:
        k = key_of(r)
        if k in masks:
            gm = (int(r.get("cflow.srcmask", 0)), int(r.get("cflow.dstmask", 0)))
            check(gm == masks[k], f"aggr: record {k} has prefix lengths (IE 9, IE 13) {gm}, expected {masks[k]}")
            check(types and 9 in types and 13 in types, f"aggr: record {k} decoded with template {types}")
    flows = json.load(open(P("aggr.flows.json")))
    dump = {(f["proto"], f["src"], f["sport"], f["dst"], f["dport"]) for f in flows}
    check(dump == set(want), f"aggr: flows --json keys {sorted(dump)} != the aggregated keys {sorted(want)}")

    # -------------------------------------------------------------- 5. snmp_rules
    ins = collections.Counter()
    for key, i in nf_in:
        ins[("snmp" if key[4] in (5005, 5006) else "before", i)] += 1
    tins = collections.Counter(("snmp" if int(r["cflow.dstport"]) in (5005, 5006) else "before",
                                int(r["cflow.inputint"]))
                               for t, r, types in recs)
    print(f"snmp: ingress interface of the records (nfdump) {dict(ins)}, (tshark) {dict(tins)}")
    for label, cnt in (("nfdump", ins), ("tshark", tins)):
        check(set(cnt) == {("snmp", snmp_base), ("before", r0_ifindex)} and cnt[("snmp", snmp_base)] >= 5,
              f"snmp ({label}): ingress interfaces {dict(cnt)}; expected {r0_ifindex} (r0) before snmp_rules and "
              f"{snmp_base} for the flows after (5 + the v9 phase's)")
    ifrecs = [(t, r) for t, r in options_records(datagrams, "cflow.if_name")]
    before = {(r["cflow.if_name"], r["cflow.inputint"]) for t, r in ifrecs if t < phases["snmp.pre"]}
    after = {(r["cflow.if_name"], r["cflow.inputint"]) for t, r in ifrecs if t >= phases["snmp"]}
    around = {(r["cflow.if_name"], r["cflow.inputint"]) for t, r in ifrecs if t >= phases["snmp.pre"]}
    print(f"snmp: interface options records before snmp_rules {sorted(before)}, after {sorted(around)}")
    check(before == {("r0", str(r0_ifindex)), ("lo", "1")},
          f"snmp: interface options before snmp_rules {sorted(before)}")
    check(("r0", str(snmp_base)) in around and after <= {("r0", str(snmp_base)), ("lo", "1")},
          f"snmp: interface options records after snmp_rules=r:{snmp_base} are {sorted(after)}, expected "
          f"[('lo', '1'), ('r0', '{snmp_base}')]")

    # ------------------------------------------------------------- 6. v9 samplerId
    v9 = json.load(open(P("v9.stat.json")))
    print(f"v9: stat --json sampler {v9['sampler']!r}, flows observed {v9['sampler_flows_observed']}, "
          f"selected {v9['sampler_flows_selected']}")
    # Each of the two workers keeps every 2nd flow it creates, counting on from the earlier
    # phases: a worker with an odd share of the 20 flows keeps one more or one less than half
    # of it, depending on where its count stood, so 9, 10 or 11 in all.
    check(v9["sampler"] == "deterministic:2" and v9["sampler_flows_observed"] == 20
          and v9["sampler_flows_selected"] in (9, 10, 11),
          "v9: stat --json sampler/observed/selected not deterministic:2/20/9..11")
    for view in views:
        got = by_dport(view, 5006)
        print(f"v9 ({view}): {len(got)} flows exported of 20")
        exact(f"v9 ({view})", got, gen["v9"])
        check(len(got) == v9["sampler_flows_selected"], f"v9 ({view}): {len(got)} flows exported, stat says "
              f"{v9['sampler_flows_selected']} selected")
    versions = {int(r["cflow.dstport"]): v for t, v, evs in datagrams for e in evs if e[0] == "data"
                for r in [e[2]] if "cflow.dstport" in r}
    check(versions.get(5006) == 9, f"v9: the records to 5006 came in version {versions.get(5006)} datagrams")
    for t, r, types in recs_to(5006):
        if not check(types and 48 in types and r.get("cflow.sampler_id") == "1",
                     f"v9: a record without samplerId 1 (template {types}, sampler {r.get('cflow.sampler_id')})"):
            break
    smp = opts_between("cflow.sampler_mode", "v9", "end")
    print(f"v9: sampler options records {smp}")
    check(smp and all((r.get("cflow.sampler_id"), r["cflow.sampler_mode"], r.get("cflow.sampler_random_interval"))
                      == ("1", "1", "2") for r in smp),
          "v9: no sampler options record (48=1, 49=1, 50=2) after sampler=deterministic:2")

    print("ctlfeatures:", "MISMATCH" if FAILED else "everything as expected")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
