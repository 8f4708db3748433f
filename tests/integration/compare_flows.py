#!/usr/bin/env python3
"""Checks one netflowd export run (NetFlow v5, v9 or IPFIX) against nfgen's truth.

Inputs: nfgen's expected CSV and stdout, netflowd's stderr (its final
"netflowd: summary k=v ..." line), the nfcapd output directory and log,
tshark's capture of the export datagrams sent to nfcapd's port, and
optionally the CSV and log of pmacct's nfacctd (print plugin), which got the
same datagrams. Checks:

  summary  netflowd's packets/metered/bytes/dropped/non_ip/malformed match
           nfgen; v5: not_exportable_packets/bytes equal the IPv6 rows,
           v9/IPFIX: nothing is unexportable; records equals the records
           nfdump read; send_errors is 0.
  capture  one frame per datagram netflowd says it sent, no malformed frame
           and no error-level expert item; the flow records tshark decodes,
           summed per key, equal the exportable rows of the CSV exactly.
           v5: every datagram 24 + 48*count bytes with 1..30 records,
           consecutive flow_sequence. v9/IPFIX (docs/export-formats.md):
           header count / length, sets padded to 4 bytes and filling the
           datagram, at most payload_size bytes after the header, one
           template per template set, placed right before a data set of its
           id, ids from 256 in order of first use, re-sent per refresh_rate,
           no data set without a known template, v9 sequence = messages
           before, IPFIX sequence = data records (options included) before,
           flow and options record totals = netflowd's records and
           options_records. Export paced at <= export_rate datagrams/s.
  nfcapd   nfdump's records summed per (src, dst, sport, dport, proto, tos)
           equal the CSV exactly (after the collector's known quirks, see
           collector_view); record times inside the capture; nfcapd's own
           totals, sequence errors and bad packets.
  nfacctd  the print plugin's CSV summed per key equals the CSV exactly
           (after nfacctd's quirks); the final purge wrote every entry.

Prints a short report; exit status 0 only if every check passed.
"""
import argparse
import collections
import concurrent.futures
import csv
import datetime
import os
import re
import sys

from netflow_capture import (AH, ESP, ICMP, ICMP_V4, ICMPV6, IPFIX_HEADER, SRC_PORT, V9_HEADER, address,
                             decode_v9_ipfix, run, tshark_fields, v9_ipfix_rows)

MAX_SHOWN = 8

# nfdump -N prints protocol numbers, but older/newer versions may print names.
PROTO_NAMES = {"ICMP": 1, "IGMP": 2, "TCP": 6, "UDP": 17, "GRE": 47, "ESP": 50, "AH": 51, "ICMP6": 58,
               "SCTP": 132, "UDP-L": 136, "UDPLITE": 136}


class Report:
    def __init__(self, label):
        self.label = label
        self.failures = []

    def check(self, ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            self.failures.append(what)
        return ok

    def equal(self, name, got, want):
        return self.check(got == want, f"{name}: {got}" + ("" if got == want else f" (expected {want})"))

    def none(self, name, bad):
        """Passes when `bad` (a list of offenders) is empty; shows the first few."""
        return self.check(not bad, f"{name}: {len(bad)}" + (f", first {bad[:MAX_SHOWN]}" if bad else ""))


def key_value_pairs(text):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", text)}


def netflowd_summary(path):
    """key=value pairs of the last 'netflowd: summary' line (extra keys tolerated)."""
    lines = [l for l in open(path, errors="replace") if l.startswith("netflowd: summary ")]
    return {k: int(v) for k, v in key_value_pairs(lines[-1]).items() if v.isdigit()} if lines else None


class Truth:
    """nfgen's summary and expected CSV: {key: [packets, bytes]} per family."""

    def __init__(self, summary_path, csv_path, protocol):
        self.summary = {k: int(v) for k, v in key_value_pairs(open(summary_path).read()).items()}
        self.v4, self.v6 = {}, {}
        with open(csv_path, newline="") as f:
            for r in csv.DictReader(f):
                key = (address(r["src"]), address(r["dst"]), int(r["sport"]), int(r["dport"]), int(r["proto"]),
                       int(r["tos"]))
                (self.v6 if r["family"] == "6" else self.v4)[key] = [int(r["packets"]), int(r["bytes"])]
        # v5 cannot carry IPv6; v9 and IPFIX carry both families.
        self.exportable = self.v4 if protocol == 5 else {**self.v4, **self.v6}
        self.unexportable = self.v6 if protocol == 5 else {}
        self.packets = sum(c[0] for c in self.exportable.values())
        self.bytes = sum(c[1] for c in self.exportable.values())
        self.all_bytes = sum(c[1] for c in self.v4.values()) + sum(c[1] for c in self.v6.values())


def collector_view(flows, collector, protocol, icmp_elements=None):
    """What a collector can show of the flows: its known quirks applied to the
    keys (colliding keys summed). icmp_elements: {(proto, element): True if
    every ICMP (1) / ICMPv6 (58) flow record of the export carried element 7
    (ports), 32 or 139}, from the capture (icmp_facts). Quirks (nfdump 1.7.1,
    pmacct 1.7.7):
      nfdump, v9/IPFIX:  ESP/AH "ports" are 0: netflowd carries the SPI in
                         ipSecSPI (295), which nfdump does not map to ports.
      nfdump, v9:        ICMP and ICMPv6 destination port 0 unless the
                         record has element 32: nfdump 1.7.1 takes the
                         type/code neither from L4_DST_PORT nor from 139.
      nfacctd, v9/IPFIX: ESP/AH ports 0 (no SPI primitive).
      nfacctd:           ICMP/ICMPv6 ports 0 unless the records have elements
                         7/11: the port primitives come from those only, not
                         from 32/139.
    """
    has = icmp_elements or {}

    def quirk(proto):
        if protocol == 5:
            return False
        if proto in (ESP, AH):
            return True
        if collector == "nfdump" and protocol == 9 and proto in (ICMP, ICMPV6):
            return not has.get((proto, ICMP_V4), False)
        if collector == "nfacctd" and proto in (ICMP, ICMPV6):
            return not has.get((proto, SRC_PORT), False)
        return False

    out = collections.defaultdict(lambda: [0, 0])
    for key, (packets, octets) in flows.items():
        if quirk(key[4]):
            key = key[:2] + (0, 0) + key[4:]
        out[key][0] += packets
        out[key][1] += octets
    return dict(out)


def compare_flow_maps(report, source, got, want):
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differ = [k for k in want if k in got and got[k] != want[k]]
    ok = report.check(not (missing or extra or differ),
                      f"{source} per-key packets/bytes vs expected flows: {len(want)} keys expected, "
                      f"{len(got)} seen, {len(missing)} missing, {len(extra)} extra, {len(differ)} differ")
    if not ok:
        for k in differ[:MAX_SHOWN]:
            print(f"       differ  {k}: {source} {got[k]} expected {want[k]}")
        for k in missing[:MAX_SHOWN]:
            print(f"       missing {k}: expected {want[k]}")
        for k in extra[:MAX_SHOWN]:
            print(f"       extra   {k}: {source} {got[k]}")


# ---------------------------------------------------------------- netflowd

def check_summary(report, truth, summary):
    print(" netflowd summary vs nfgen:")
    t = truth.summary
    report.equal("packets (all frames read)", summary.get("packets"), t["packets"])
    report.equal("metered packets", summary.get("metered"), t["counted"])
    report.equal("metered bytes", summary.get("bytes"), truth.all_bytes)
    report.equal("dropped", summary.get("dropped"), t["non_ip"] + t["malformed"])
    report.equal("non_ip", summary.get("non_ip"), t["non_ip"])
    report.equal("malformed", summary.get("malformed"), t["malformed"])
    report.equal("not_exportable_packets (v5: IPv6 packets)", summary.get("not_exportable_packets"),
                 sum(c[0] for c in truth.unexportable.values()))
    report.equal("not_exportable_bytes (v5: IPv6 bytes)", summary.get("not_exportable_bytes"),
                 sum(c[1] for c in truth.unexportable.values()))
    report.equal("send_errors", summary.get("send_errors"), 0)


# ---------------------------------------------------------------- nfcapd / nfdump

def parse_port(text):
    # nfdump's fmt output prints an ICMP/ICMPv6 destination "port" as
    # "type.code" (its csv output prints type*256+code); map to the key value.
    if "." in text:
        icmp_type, icmp_code = text.split(".")
        return int(icmp_type) * 256 + int(icmp_code)
    return int(text)


_EPOCH_SECONDS = {}


def epoch_ms(text):
    """'YYYY-MM-DD HH:MM:SS.mmm' (UTC) -> epoch ms; strptime is too slow for 1M records."""
    seconds, _, millis = text.partition(".")
    base = _EPOCH_SECONDS.get(seconds)
    if base is None:
        when = datetime.datetime.strptime(seconds, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
        base = _EPOCH_SECONDS[seconds] = int(when.timestamp()) * 1000
    return base + int(millis.ljust(3, "0")[:3])


def nfdump_output(flows_dir):
    fmt = "fmt:%sa|%da|%sp|%dp|%pr|%tos|%pkt|%byt|%ts|%te"
    # %ts/%te are printed in local time: pin the zone. -6: full IPv6 addresses.
    return run(["nfdump", "-R", flows_dir, "-q", "-N", "-6", "-o", fmt], env={**os.environ, "TZ": "UTC"})


def nfdump_records(out):
    """Records nfdump read from the nfcapd files (nfdump_output): count,
    {key: [packets, bytes]}, earliest start / latest end (epoch ms), longest
    duration (ms), and the number of records whose start or end nfdump shows
    as the epoch (time 0)."""
    totals = collections.defaultdict(lambda: [0, 0])
    records, first_ms, last_ms, longest_ms, zero_times = 0, None, None, 0, 0
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 10:
            continue
        sa, da, sp, dp, pr, tos, pkt, byt, ts, te = fields
        proto = int(pr) if pr.isdigit() else PROTO_NAMES[pr.upper()]
        key = (address(sa), address(da), parse_port(sp), parse_port(dp), proto, int(tos))
        totals[key][0] += int(pkt)
        totals[key][1] += int(byt)
        records += 1
        start, end = epoch_ms(ts), epoch_ms(te)
        if start == 0 or end == 0:
            zero_times += 1
            continue
        first_ms = start if first_ms is None else min(first_ms, start)
        last_ms = end if last_ms is None else max(last_ms, end)
        longest_ms = max(longest_ms, end - start)
    return records, dict(totals), (first_ms, last_ms, longest_ms), zero_times


def nfcapd_stats(path):
    # On SIGTERM nfcapd 1.7.1 logs "Ident: 'x' Flows: F, Packets: P, Bytes: B,
    # Sequence Errors: S, Bad Packets: X" (flow totals, not datagram counts).
    text = open(path, errors="replace").read()
    m = re.findall(r"Flows: (\d+), Packets: (\d+), Bytes: (\d+), Sequence Errors: (\d+), Bad Packets: (\d+)", text)
    return [int(x) for x in m[-1]] if m else None


# Time resolution of what nfdump derives record times from, plus nfdump's ms
# rounding: v5 carries unix_nsecs; v9 only whole unix_secs next to sysUpTime,
# so its boot time (and every record time) is off by up to 1 s; IPFIX carries
# absolute milliseconds.
TIME_SLACK_MS = {5: 2, 9: 1002, 10: 2}


def check_collector(report, truth, summary, args, facts):
    print(" nfcapd / nfdump:")
    records, got, (first_ms, last_ms, longest_ms), zero_times = nfdump_records(PREFETCH["nfdump"].result())
    report.equal("records read by nfdump (= netflowd records)", records, summary.get("records"))
    compare_flow_maps(report, "nfdump", got, collector_view(truth.exportable, "nfdump", args.protocol,
                                                            **icmp_view(facts)))
    if zero_times:
        # nfdump 1.7.1 treats a v9 FIRST/LAST_SWITCHED of 0 as "no time": a flow
        # that starts with the capture's first packet (sysUpTime 0) shows as 1970.
        print(f"       note: {zero_times} record(s) with a start/end nfdump shows as time 0 (v9 sysUpTime 0), "
              "left out of the time checks")
        # Each must be explained by a FIRST_SWITCHED of 0 on the wire.
        most = facts.get("v9_zero_time_records", 0) if args.protocol == 9 else 0
        report.check(zero_times <= most, f"records nfdump shows at time 0: {zero_times}, at most the {most} v9 "
                                         "records with FIRST_SWITCHED 0 in the capture")
    if first_ms is not None:
        # Packet timestamps drive netflowd's clock in --read mode, so flow
        # times must lie inside the capture.
        slack = TIME_SLACK_MS[args.protocol]
        lo, hi = truth.summary["first_ts_us"] // 1000, -(-truth.summary["last_ts_us"] // 1000)
        report.check(lo - slack <= first_ms and last_ms <= hi + slack,
                     f"record times within the capture [{lo}, {hi}] ms (+-{slack}): first start {first_ms}, "
                     f"last end {last_ms}")
        # A flow idle for inactive_timeout ends, one older than active_timeout
        # is cut: no record can span more than the sum.
        report.check(longest_ms <= (args.active_timeout + args.inactive_timeout) * 1000,
                     f"longest record {longest_ms} ms <= active+inactive timeout "
                     f"({args.active_timeout}+{args.inactive_timeout} s)")
    stats = nfcapd_stats(args.nfcapd_log)
    if report.check(stats is not None, "nfcapd printed its statistics on SIGTERM"):
        flows, packets, octets, seq_errors, bad = stats
        report.equal("nfcapd flows", flows, records)
        report.equal("nfcapd packets", packets, truth.packets)
        report.equal("nfcapd bytes", octets, truth.bytes)
        # nfcapd 1.7.1 advances its expected IPFIX sequence by flow records
        # only; RFC 7011 (and the contract) count options data records too, so
        # nfcapd reports one "error" per message that follows one carrying
        # options records (once it has seen flow records). The exact number is
        # computed from the capture.
        want = facts.get("nfcapd_ipfix_sequence_errors", 0) if args.protocol == 10 else 0
        report.equal("nfcapd sequence errors" + (" (IPFIX: messages after options records)" if want else ""),
                     seq_errors, want)
        report.equal("nfcapd bad packets", bad, 0)


# ---------------------------------------------------------------- nfacctd

def icmp_view(facts):
    return {"icmp_elements": facts.get("icmp_elements")}


def nfacctd_records(path):
    """The print plugin's CSV summed per key (it can hold several purges)."""
    totals = collections.defaultdict(lambda: [0, 0])
    rows = 0
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r.get("SRC_IP") in (None, "SRC_IP"):  # repeated titles
                continue
            proto = r["PROTOCOL"]
            proto = int(proto) if proto.isdigit() else PROTO_NAMES[proto.upper()]
            key = (address(r["SRC_IP"]), address(r["DST_IP"]), int(r["SRC_PORT"]), int(r["DST_PORT"]), proto,
                   int(r["TOS"]))
            totals[key][0] += int(r["PACKETS"])
            totals[key][1] += int(r["BYTES"])
            rows += 1
    return rows, dict(totals)


def check_nfacctd(report, truth, summary, args, facts):
    print(" nfacctd (pmacct print plugin):")
    log = open(args.nfacctd_log, errors="replace").read() if args.nfacctd_log else ""
    purges = re.findall(r"Purging cache - END \(PID: \d+, QN: (\d+)/(\d+)", log)
    report.check(bool(purges) and all(a == b for a, b in purges),
                 f"print plugin purged its cache completely: {purges[-3:] if purges else 'no purge logged'}")
    # "missing data detected": the core -> plugin pipe overflowed.
    bad = [l.strip()[:160] for l in log.splitlines()
           if "missing data" in l or "WARN" in l or "ERROR" in l or "unable to" in l]
    report.none("nfacctd warnings/errors in its log", bad)
    if not report.check(os.path.exists(args.nfacctd_csv), f"nfacctd wrote {os.path.basename(args.nfacctd_csv)}"):
        return
    rows, got = nfacctd_records(args.nfacctd_csv)
    print(f"       {rows} CSV rows")
    compare_flow_maps(report, "nfacctd", got, collector_view(truth.exportable, "nfacctd", args.protocol,
                                                             **icmp_view(facts)))


# ---------------------------------------------------------------- capture, v5

def check_capture_v5(report, truth, summary, args):
    """The datagrams on the wire, as tshark decodes them. Returns per-key totals."""
    fields = ["frame.time_epoch", "udp.length", "cflow.version", "cflow.count", "cflow.sequence", "cflow.srcaddr",
              "cflow.dstaddr", "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.tos", "cflow.packets",
              "cflow.octets"]
    rows = tshark_fields(args.capture, args.port, fields)
    report.equal("captured datagrams (= netflowd datagrams)", len(rows), summary.get("datagrams"))

    totals = collections.defaultdict(lambda: [0, 0])
    bad_layout, bad_sequence, records, expected_seq = [], [], 0, None
    for n, row in enumerate(rows, 1):
        udp_len, version, count, sequence = row[1], row[2], row[3], row[4]
        lists = [c.split(",") if c else [] for c in row[5:]]
        try:
            count = int(count)
            ok = (version == "5" and 1 <= count <= 30 and int(udp_len) - 8 == 24 + 48 * count
                  and all(len(l) == count for l in lists))
        except ValueError:
            ok = False
        if not ok:
            bad_layout.append(n)
            continue
        sequence = int(sequence)
        if expected_seq is not None and sequence != expected_seq:
            bad_sequence.append((n, sequence, expected_seq))
        expected_seq = (sequence + count) & 0xFFFFFFFF
        records += count
        for src, dst, sp, dp, proto, tos, pkts, octets in zip(*lists):
            key = (address(src), address(dst), int(sp), int(dp), int(proto), int(tos, 0))
            totals[key][0] += int(pkts)
            totals[key][1] += int(octets)
    report.none("datagrams that are not a well-formed v5 PDU (24+48*count bytes, 1..30 records)", bad_layout)
    report.none("flow_sequence breaks (frame, got, expected)", bad_sequence)
    report.equal("sum of cflow record counts (= netflowd records)", records, summary.get("records"))
    check_pacing(report, [float(r[0]) for r in rows], args.export_rate)

    # tshark 4.0 accepts comparisons on the expert severity by name.
    malformed = tshark_fields(args.capture, args.port, ["frame.number"], "_ws.malformed")
    report.equal("frames flagged _ws.malformed", len(malformed), 0)
    errors = tshark_fields(args.capture, args.port, ["frame.number", "_ws.expert.message"],
                           "_ws.expert.severity >= error")
    report.equal("frames with an error-level expert item", len(errors), 0)
    for row in errors[:MAX_SHOWN]:
        print(f"       frame {row[0]}: {row[1][:160]}")
    return dict(totals), {}


def check_pacing(report, times, export_rate):
    if len(times) > 1 and export_rate:
        # n datagrams at export_rate/s need (n-1)/rate seconds; allow an
        # initial burst of up to 0.1 s worth of datagrams.
        span = times[-1] - times[0]
        need = (len(times) - 1) / export_rate - 0.1
        report.check(span >= need, f"export paced at <= {export_rate} datagrams/s: {len(times)} datagrams in "
                                   f"{span:.3f} s ({(len(times) - 1) / max(span, 1e-9):.0f}/s)")


# ---------------------------------------------------------------- capture, v9 / IPFIX

def check_capture_v9_ipfix(report, truth, summary, args):
    """The messages on the wire against the contract. Returns per-key totals and
    facts other checks need."""
    protocol = args.protocol
    messages = decode_v9_ipfix(args.capture, args.port, rows=PREFETCH["tshark"].result())
    report.equal("captured datagrams (= netflowd datagrams)", len(messages), summary.get("datagrams"))
    header = V9_HEADER if protocol == 9 else IPFIX_HEADER

    report.none("frames flagged _ws.malformed", [m.frame for m in messages if m.malformed])
    report.none("frames with an error-level expert item", [(m.frame, m.error_expert[0]) for m in messages if m.error_expert])
    report.none(f"frames that are not version {protocol}", [m.frame for m in messages if m.version != protocol])
    report.none("layout problems (frame, problem)", [(m.frame, p) for m in messages for p in m.problems])
    if protocol == 9:
        report.none("v9 header count != template + data records (frame, count, sum)",
                    [(m.frame, m.count, m.template_records + m.flow_records + m.options_records)
                     for m in messages if m.count != m.template_records + m.flow_records + m.options_records])
    else:
        report.none("IPFIX header length != datagram (frame, length, udp payload)",
                    [(m.frame, m.length, m.udp_payload) for m in messages if m.length != m.udp_payload])
    report.none("sets not filling the datagram exactly (frame, header+sets, udp payload)",
                [(m.frame, header + m.set_bytes, m.udp_payload) for m in messages if header + m.set_bytes != m.udp_payload])
    report.none(f"messages with more than payload_size={args.payload_size} bytes after the header (frame, bytes)",
                [(m.frame, m.udp_payload - header) for m in messages if m.udp_payload - header > args.payload_size])

    # Sequence numbers: v9 counts messages, IPFIX data records (options included).
    breaks, want = [], 0
    for m in messages:
        if m.sequence != want:
            breaks.append((m.frame, m.sequence, want))
        step = 1 if protocol == 9 else m.flow_records + m.options_records
        want = (m.sequence + step) & 0xFFFFFFFF
    what = "messages" if protocol == 9 else "data records incl. options records"
    report.none(f"sequence breaks, sequence = {what} sent before (frame, got, expected)", breaks)

    report.none("data sets without a known template (frame, set id)",
                [(m.frame, i) for m in messages for i in m.undecodable])
    report.none("frames where tshark found no template", [m.frame for m in messages if m.tshark_no_template])
    report.equal("flow records decoded (= netflowd records)", sum(m.flow_records for m in messages),
                 summary.get("records"))
    report.equal("options records decoded (= netflowd options_records)", sum(m.options_records for m in messages),
                 summary.get("options_records"))
    check_templates(report, messages, summary, args)
    check_pacing(report, [m.time_epoch for m in messages], args.export_rate)

    totals = collections.defaultdict(lambda: [0, 0])
    for m in messages:
        for f in m.flows:
            totals[f[:6]][0] += f[6]
            totals[f[:6]][1] += f[7]
    # nfcapd 1.7.1 (ipfix.c) advances its expected IPFIX sequence by the flow
    # records it processes, and counts a mismatch as an error only once it has
    # seen a flow data set (before that it just syncs).
    after_options, flows_seen = 0, 0
    for prev in messages[:-1]:
        flows_seen += prev.flow_records
        after_options += bool(prev.options_records and flows_seen)
    return dict(totals), {"nfcapd_ipfix_sequence_errors": after_options,
                          "v9_zero_time_records": sum(m.zero_time_records for m in messages),
                          **icmp_facts(messages)}


def icmp_facts(messages):
    """{"icmp_elements": {(proto, element): every flow record of that ICMP
    protocol carried the element}} for elements 7, 32, 139."""
    out = {}
    for (proto, element) in messages[0].icmp_elements if messages else ():
        records = sum(m.icmp_records[proto] for m in messages)
        out[proto, element] = records > 0 and records == sum(m.icmp_elements[proto, element] for m in messages)
    return {"icmp_elements": out}


def check_templates(report, messages, summary, args):
    """Template ids, placement and refresh (refresh_rate messages; the run is
    shorter than timeout_rate, so time plays no part)."""
    first_use = []
    for m in messages:
        for _, _, tid in m.sets:
            if tid is not None and tid not in first_use:
                first_use.append(tid)
    # Allocation order = order of first appearance (each template goes out
    # with its first data set).
    report.equal("template ids: 256.. in order of first use", first_use, list(range(256, 256 + len(first_use))))
    report.equal("distinct template ids (= netflowd templates)", len(first_use), summary.get("templates"))

    misplaced = []
    for m in messages:
        for i, (_, _, tid) in enumerate(m.sets):
            if tid is not None:
                nxt = m.sets[i + 1][0] if i + 1 < len(m.sets) else None
                if nxt != tid:
                    misplaced.append((m.frame, tid, nxt))
    report.none("templates not immediately followed by a data set of their id (frame, template, next set)", misplaced)

    # refresh_rate: a data set starting in message k re-sends its template
    # when more than refresh_rate messages went out since message j that last
    # carried it; so every data set has its template at most refresh_rate
    # messages back, and a re-send happens only when k - j > refresh_rate.
    rate = args.refresh_rate
    last_sent, stale, early = {}, [], []
    for k, m in enumerate(messages):
        sent_here = set(m.options_templates + m.data_templates)
        for tid in sent_here:
            if tid in last_sent and k - last_sent[tid] <= rate:
                early.append((m.frame, tid, k - last_sent[tid]))
            last_sent[tid] = k
        for set_id, _, _ in m.sets:
            if set_id >= 256 and set_id in last_sent and k - last_sent[set_id] > rate:
                stale.append((m.frame, set_id, k - last_sent[set_id]))
    report.none(f"data sets whose template was last sent more than refresh_rate={rate} messages back "
                "(frame, id, messages)", stale)
    report.none(f"templates re-sent within refresh_rate={rate} messages (frame, id, messages)", early)


def check_export_capture(report, truth, summary, args):
    print(" tshark capture of the export:")
    if args.tshark_log:
        dropped = re.findall(r"(\d+) packets? dropped", open(args.tshark_log, errors="replace").read())
        report.check(not dropped or all(d == "0" for d in dropped),
                     "capture complete (tshark reports no drops)" + (f": dropped {dropped}" if dropped else ""))
    if args.protocol == 5:
        got, facts = check_capture_v5(report, truth, summary, args)
    else:
        got, facts = check_capture_v9_ipfix(report, truth, summary, args)
    compare_flow_maps(report, "tshark cflow", got, truth.exportable)
    return facts


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default="run")
    ap.add_argument("--protocol", type=int, choices=(5, 9, 10), default=5)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--nfgen-summary", required=True)
    ap.add_argument("--netflowd-stderr", required=True)
    ap.add_argument("--flows-dir", required=True)
    ap.add_argument("--nfcapd-log", required=True)
    ap.add_argument("--capture", required=True)
    ap.add_argument("--tshark-log")
    ap.add_argument("--port", required=True, type=int, help="nfcapd's port: the captured export datagrams")
    ap.add_argument("--nfacctd-csv", help="nfacctd print plugin output (checked when given)")
    ap.add_argument("--nfacctd-log")
    ap.add_argument("--active-timeout", type=int, default=60, help="as given to netflowd (s)")
    ap.add_argument("--inactive-timeout", type=int, default=15, help="as given to netflowd (s)")
    ap.add_argument("--export-rate", type=int, default=0, help="as given to netflowd (datagrams/s), 0: unchecked")
    ap.add_argument("--refresh-rate", type=int, default=20, help="netflowd's refresh_rate (messages)")
    ap.add_argument("--payload-size", type=int, default=1400, help="netflowd's payload_size (bytes)")
    ap.add_argument("--probe-port", type=int, help="lib.sh's marker datagrams (ignored here)")
    return ap.parse_args()


# The slow tool runs (tshark over the capture, nfdump over the files) start
# at once, in parallel, and run while Python parses the rest.
PREFETCH = {}


def main():
    args = parse_args()
    report = Report(args.label)
    print(f"== {args.label}")
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    PREFETCH["nfdump"] = pool.submit(nfdump_output, args.flows_dir)
    if args.protocol != 5:
        PREFETCH["tshark"] = pool.submit(v9_ipfix_rows, args.capture, args.port)
    truth = Truth(args.nfgen_summary, args.expected, args.protocol)
    summary = netflowd_summary(args.netflowd_stderr)
    if not report.check(summary is not None, "netflowd printed a 'netflowd: summary' line"):
        return finish(report)
    # Each part reports on its own: a broken tool run fails that part only.
    # The capture goes first: it tells how many IPFIX sequence "errors" nfcapd will report.
    facts = {}
    parts = [check_summary, check_export_capture, check_collector] + ([check_nfacctd] if args.nfacctd_csv else [])
    for part in parts:
        try:
            if part is check_summary:
                part(report, truth, summary)
            elif part is check_export_capture:
                facts = part(report, truth, summary, args) or {}
            else:
                part(report, truth, summary, args, facts)
        except (RuntimeError, OSError, KeyError, ValueError, IndexError) as e:
            report.check(False, f"{part.__name__}: {type(e).__name__}: {e}")
    return finish(report)


def finish(report):
    if report.failures:
        print(f"== {report.label}: FAILED ({len(report.failures)} checks)")
        return 1
    print(f"== {report.label}: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print(f"compare_flows.py: error: {e}")
        sys.exit(1)
