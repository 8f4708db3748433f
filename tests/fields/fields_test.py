#!/usr/bin/env python3
"""fields.v9 / fields.ipfix: crafted single-flow captures -> netflowd -> tshark.

For every case of cases.py: write the capture, run
  netflowd --read CASE.pcap destination=127.0.0.1:PORT protocol=V [case parameters]
towards a port of its own while one tshark captures all ports on lo; then
decode with tshark's cflow dissector and compare, field by field, with the
values derived from the crafted packets (cases.py), plus the template element
lists, message headers, system-init/sampling records and netflowd's summary.

usage: fields_test.py --netflowd PATH --protocol 9|10 [--case NAME ...]
exit: 0 pass, 1 fail, 77 skip (tool missing)
"""

import argparse
import ipaddress
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases as C  # noqa: E402
import fieldslib as L  # noqa: E402
import pcapcraft as pc  # noqa: E402

ADDR_FIELDS = {"cflow.srcaddr", "cflow.dstaddr", "cflow.nexthop", "cflow.srcaddrv6", "cflow.dstaddrv6",
               "cflow.nexthopv6"}
MAC_FIELDS = {"cflow.srcmac", "cflow.dstmac"}
BITMAP_FIELDS = {"cflow.option_map": 4, "cflow.tcp_option_map": 8}  # tshark shows these as raw bytes
VERBOSE = os.environ.get("NETFLOWD_TEST_VERBOSE") == "1"
# what identifies a record among the flows of one case
MATCH_FIELDS = ["cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6", "cflow.protocol",
                "cflow.srcport", "cflow.dstport", "cflow.icmp_type_code_ipv4", "cflow.icmp_ipv6_type",
                "cflow.igmp_type", "cflow.ipsec_spi"]


def norm(name, value):
    """A tshark value in the form expected_values() uses."""
    if isinstance(value, list):
        return [norm(name, v) for v in value]
    if name in ADDR_FIELDS:
        return str(ipaddress.ip_address(value))
    if name in MAC_FIELDS:
        return value.lower()
    if name in BITMAP_FIELDS:
        raw = bytes.fromhex(value.replace(":", ""))
        if len(raw) != BITMAP_FIELDS[name]:
            return "%d bytes: %s" % (len(raw), value)
        return int.from_bytes(raw, "big")
    return int(value, 0)


def show(name, value):
    if isinstance(value, int) and (name in BITMAP_FIELDS or name in ("cflow.ipv6_exthdr", "cflow.tcpflags",
                                                                      "cflow.tos", "cflow.ipsec_spi",
                                                                      "cflow.icmp_type_code_ipv4")):
        return "0x%x" % value
    if isinstance(value, list) and name == "mpls_sections":
        return "[" + ", ".join("0x%06x" % v for v in value) + "]"
    return repr(value)


def expected_norm(name, value):
    if name in ADDR_FIELDS:
        return str(ipaddress.ip_address(value))
    if name in MAC_FIELDS:
        return value.lower()
    return value


def got_value(rec, name, version):
    """The record's value for an expected-values key, or a string describing why there is none."""
    if name in ("start_ms", "end_ms"):
        rel, ab = ("cflow.timestart", "cflow.abstimestart") if name == "start_ms" else (
            "cflow.timeend", "cflow.abstimeend")
        if version == 9 and rec.get(rel) is not None:
            return L.reltime_ms(rec.get(rel))
        if rec.get(ab) is not None:  # v9: tshark shows a raw 0 as an absolute 1970 time
            return L.abstime_ms(rec.get(ab))
        return "<absent>"
    if name == "mpls_sections":
        labels, exps, bos = (rec.fields.get(k, []) for k in ("cflow.mpls_label", "cflow.mpls_exp", "cflow.mpls_bos"))
        if not (len(labels) == len(exps) == len(bos)):
            return "<labels %s exp %s bos %s>" % (labels, exps, bos)
        return [(int(a) << 4) | (int(b) << 1) | int(c) for a, b, c in zip(labels, exps, bos)]
    vals = rec.fields.get(name)
    if not vals:
        return "<absent>"
    if len(vals) != 1:
        return "<%d values: %s>" % (len(vals), vals)
    try:
        return norm(name, vals[0])
    except ValueError:
        return "<unparsable %r>" % vals[0]


def match_key(values):
    return tuple((k, values.get(k)) for k in MATCH_FIELDS)


def record_match_key(rec):
    out = {}
    for k in MATCH_FIELDS:
        v = rec.get(k)
        out[k] = norm(k, v) if isinstance(v, str) else None
    return match_key(out)


def check_case(name, version, params, pkts, flows, messages, summary, bad):
    """Returns a list of 'field: expected X, got Y' strings for one case."""
    errs = []
    boot_us = pkts[0].ts_us

    errs += L.check_messages(messages, version, engine_id=int(params.get("engine_id", 0)),
                             payload_size=int(params.get("payload_size", 1400)),
                             refresh_rate=int(params.get("refresh_rate", 20)))
    if bad:
        errs += ["tshark: malformed/expert error: %s" % b for b in bad]

    # netflowd's own summary against the construction and the capture
    n_opts = sum(1 for m in messages for r in m.records() if r.is_options())
    n_flow_records = sum(len(m.flow_records()) for m in messages)
    n_templates = len({t.id for m in messages for t in m.templates()})
    n_keys = len({C.flow_key(p, params) for p in pkts})
    if not n_keys <= summary.get("flows", -1) <= len(flows):  # a restarted flow may count again
        errs.append("summary flows: expected %d..%d (flow keys..records), got %s" % (
            n_keys, len(flows), summary.get("flows")))
    want = {"packets": len(pkts), "metered": len(pkts), "bytes": sum(p.ip_len for p in pkts),
            "records": len(flows), "dropped": 0, "send_errors": 0, "datagrams": len(messages),
            "options_records": n_opts, "templates": n_templates}
    for k, v in want.items():
        if summary.get(k) != v:
            errs.append("summary %s: expected %s, got %s" % (k, v, summary.get(k)))
    if n_flow_records != len(flows):
        errs.append("flow records in the capture: expected %d, got %d" % (len(flows), n_flow_records))

    # headers: v9 unix_secs = boot + sysUpTime; IPFIX export time within the capture
    for i, m in enumerate(messages):
        if version == 9:
            up = L.reltime_ms(m.h("cflow.sysuptime"))
            secs = int(m.h("cflow.unix_secs"))
            if secs != (boot_us // 1000 + up) // 1000:
                errs.append("message %d: unix_secs %d != (first packet ms %d + sysUpTime %d) / 1000" % (
                    i, secs, boot_us // 1000, up))
        else:
            t = int(m.h("cflow.exporttime"))
            lo, hi = pkts[0].ts_us // C.S, pkts[-1].ts_us // C.S
            if not lo <= t <= hi:
                errs.append("message %d: export time %d outside the capture's [%d, %d]" % (i, t, lo, hi))

    # system init and sampling records, sent at the start of metering
    opts = L.options_records(messages, version)
    kinds = [k for k, _, _ in opts]
    if None in kinds:
        errs.append("options record with a template not in the docs: %s" % [
            r.template.fields for k, r, _ in opts if k is None])
    for kind in ("system_init", "sampling"):
        if kinds.count(kind) != 1:
            errs.append("%s records: expected 1, got %d" % (kind, kinds.count(kind)))
    for kind, r, _ in opts:
        if kind == "system_init":
            name_ = r.get("cflow.observation_domain_name") or ""
            if not name_.startswith("netflowd"):
                errs.append("observationDomainName %r does not start with 'netflowd'" % name_)
            for f, want_ms in (("cflow.sys_init_time", boot_us // 1000), ("cflow.abstimestart", boot_us // 1000),
                               ("cflow.abstimeend", boot_us // 1000)):
                v = r.get(f)
                got = L.abstime_ms(v) if isinstance(v, str) else v
                if got != want_ms:
                    errs.append("system init %s: expected %s (first packet, ms), got %s" % (f, want_ms, got))
        if kind == "sampling":
            for f in ("cflow.sampling_interval", "cflow.sampling_algorithm"):
                if r.get(f) != "1":
                    errs.append("sampling %s: expected 1, got %s" % (f, r.get(f)))

    # options records carry engine_id in their first (scope) element
    engine_id = int(params.get("engine_id", 0))
    for kind, r, _ in opts:
        if version == 9:
            scope = r.get("cflow.scope_system")
            got = int(scope.replace(":", ""), 16) if isinstance(scope, str) else scope
        else:
            got = r.get("cflow.od_id")
            got = int(got) if isinstance(got, str) else got
        if kind in ("system_init", "sampling", "interfaces") and got != engine_id:
            errs.append("%s record scope: expected engine_id %d, got %s" % (kind, engine_id, got))

    # flow records, field by field; records of one flow key (active timeout) pair up by start
    records = [r for m in messages for r in m.flow_records()]
    by_key = {}
    for r in records:
        by_key.setdefault(record_match_key(r), []).append(r)
    for recs in by_key.values():
        recs.sort(key=lambda r: got_value(r, "start_ms", version) if isinstance(
            got_value(r, "start_ms", version), int) else -1)
    expected = [(f, C.expected_values(f, version, params, boot_us)) for f in flows]
    expected.sort(key=lambda fe: fe[1]["start_ms"])
    for f, exp in expected:
        key = match_key({k: expected_norm(k, v) for k, v in exp.items()})
        label = "flow %s %s:%d -> %s:%d proto %d (first packet +%.6f s)" % (
            "v4" if f.p.family == 4 else "v6", f.p.src, f.p.sport, f.p.dst, f.p.dport, f.p.proto,
            (f.p.ts_us - boot_us) / 1e6)
        found = by_key.get(key, [])
        if not found:
            errs.append("%s: no record" % label)
            continue
        rec = found.pop(0)
        if rec.template is None:
            errs.append("%s: record without a known template" % label)
            continue
        want_t = C.expected_template(f, version, params)
        if rec.template.fields != want_t:
            errs.append("%s: template %d elements (id, length):\n      expected %s\n      got      %s" % (
                label, rec.template.id, want_t, rec.template.fields))
        for fname, want_v in exp.items():
            got = got_value(rec, fname, version)
            if VERBOSE:
                print("  [%s] %s: %s = %s (got %s)" % (name, label, fname, show(fname, want_v), show(fname, got)),
                      file=sys.stderr)
            if got != expected_norm(fname, want_v):
                errs.append("%s: field %s: expected %s, got %s" % (label, fname, show(fname, want_v),
                                                                    show(fname, got)))
    for key, recs in by_key.items():
        for r in recs:
            errs.append("unexpected flow record: %s start %s" % (
                {k: v for k, v in key if v is not None}, got_value(r, "start_ms", version)))
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netflowd", required=True)
    ap.add_argument("--protocol", type=int, choices=(9, 10), required=True)
    ap.add_argument("--case", action="append", help="run only these cases")
    args = ap.parse_args()
    L.install_signal_handlers()
    L.require_tools("tshark", "dumpcap")
    if not os.access(args.netflowd, os.X_OK):
        L.log("netflowd not executable: %s" % args.netflowd)
        return 2
    version = args.protocol
    selected = [c for c in C.CASES if not args.case or c.name in args.case]
    if not selected:
        L.log("no such case: %s" % args.case)
        return 2

    failures = 0
    with L.Scope("netflowd-fields-%d." % version) as scope:
        runs = []
        for idx, case in enumerate(selected):
            base = 1_700_000_000 + idx * 86_400 + 3_600 * version  # a different day per case
            pkts, flows = case.make(base)
            pcap = os.path.join(scope.workdir, case.name + ".pcap")
            pc.write_pcap(pcap, [(p.ts_us, p.frame) for p in pkts], linktype=case.linktype)
            port = scope.udp_socket().getsockname()[1]
            runs.append((case.name, case.params, pkts, flows, pcap, port))

        ports = [r[5] for r in runs]
        L.log("tshark on lo, ports %s (workdir %s)" % (ports, scope.workdir))
        cap = L.Capture(scope, "export", ports)
        summaries = {}
        for name, params, pkts, flows, pcap, port in runs:
            extra = ["%s=%s" % kv for kv in sorted(params.items())]
            cmd = [args.netflowd, "--read", pcap, "destination=127.0.0.1:%d" % port, "protocol=%d" % version] + extra
            err_path = os.path.join(scope.workdir, name + ".netflowd.err")
            with open(err_path, "wb") as err:
                rc = scope.run(cmd, timeout=60, stdout=subprocess.DEVNULL, stderr=err)
            text = open(err_path, "rb").read().decode(errors="replace")
            if rc != 0:
                L.log("FAIL [%s] netflowd exited with %d: %s\n%s" % (name, rc, " ".join(cmd), text))
                failures += 1
                continue
            summaries[name] = L.parse_summary(text)
        cap.stop()

        decoded = L.decode(cap.pcap, ports, version)
        bad = L.bad_frames(cap.pcap, ports)
        bad_by_port = {}
        for line in bad:
            parts = line.split("\t")
            port = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
            bad_by_port.setdefault(port, []).append(line)
        for port in set(bad_by_port) - set(ports):
            L.log("FAIL tshark flags frames outside the cases: %s" % bad_by_port[port])
            failures += 1

        for name, params, pkts, flows, pcap, port in runs:
            if name not in summaries:
                continue
            cmd = "netflowd --read %s.pcap destination=127.0.0.1:%d protocol=%d %s" % (
                name, port, version, " ".join("%s=%s" % kv for kv in sorted(params.items())))
            errs = check_case(name, version, params, pkts, flows, decoded[port], summaries[name],
                              bad_by_port.get(port))
            if errs:
                failures += 1
                L.log("FAIL [%s] v%s: %s" % (name, version, cmd))
                for e in errs:
                    print("  [%s] %s" % (name, e), file=sys.stderr)
            else:
                L.log("ok   [%s] %d packets, %d flows, %d datagrams" % (
                    name, len(pkts), summaries[name]["flows"], len(decoded[port])))
    if failures:
        L.log("%d of %d cases failed (protocol %d)" % (failures, len(selected), version))
        return 1
    L.log("all %d cases passed (protocol %d)" % (len(selected), version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
