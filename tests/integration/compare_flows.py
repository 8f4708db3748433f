#!/usr/bin/env python3
"""Checks one netflowd NetFlow v5 export run against nfgen's ground truth.

Inputs: nfgen's expected CSV and stdout, netflowd's stderr (its final
"netflowd: summary k=v ..." line), the nfcapd output directory and log, and
tshark's capture of the export datagrams. Checks:

  flows    nfdump's records, summed per (src, dst, sport, dport, proto, tos),
           equal the IPv4 rows of the expected CSV exactly (packets, bytes);
           the same for the records as tshark's cflow dissector decodes them.
  summary  netflowd's packets/metered/bytes/dropped/non_ip/malformed match
           nfgen; not_exportable_packets/bytes equal the IPv6 rows; records
           equals the records nfdump read; send_errors is 0.
  nfcapd   no sequence errors, no bad packets, flow totals as above.
  capture  one frame per datagram netflowd says it sent, no malformed frame
           and no error-level expert item, every datagram a v5 PDU of
           24 + 48*count bytes with 1..30 records, consecutive
           flow_sequence numbers, the counts summing to `records`, and
           the datagrams paced at no more than export_rate per second.

Prints a short report; exit status 0 only if every check passed.
Quirks of the tools (nfdump 1.7.1, tshark 4.0) are noted where handled.
"""
import argparse
import collections
import csv
import datetime
import os
import re
import subprocess
import sys

MAX_SHOWN = 8
TIME_SLACK_MS = 2  # ms rounding in the v5 header/record times and in nfdump

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


def run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return proc.stdout


def key_value_pairs(text):
    return {k: v for k, v in re.findall(r"(\w+)=(\S+)", text)}


def read_expected(path):
    """IPv4 rows as {key: [packets, bytes]} and IPv6 totals [packets, bytes]."""
    v4, v6 = {}, [0, 0]
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            counts = [int(r["packets"]), int(r["bytes"])]
            if r["family"] == "6":
                v6[0] += counts[0]
                v6[1] += counts[1]
                continue
            key = (r["src"], r["dst"], int(r["sport"]), int(r["dport"]), int(r["proto"]), int(r["tos"]))
            v4[key] = counts
    return v4, v6


def netflowd_summary(path):
    """key=value pairs of the last 'netflowd: summary' line (extra keys tolerated)."""
    lines = [l for l in open(path, errors="replace") if l.startswith("netflowd: summary ")]
    return {k: int(v) for k, v in key_value_pairs(lines[-1]).items() if v.isdigit()} if lines else None


def parse_port(text, proto):
    # nfdump's fmt output prints an ICMP/ICMPv6 destination "port" as
    # "type.code" (its csv output prints type*256+code); map to the v5 value.
    if "." in text:
        icmp_type, icmp_code = text.split(".")
        return int(icmp_type) * 256 + int(icmp_code)
    return int(text)


def nfdump_records(flows_dir):
    """Records nfdump reads from the nfcapd files: count, {key: [packets, bytes]},
    and the earliest start / latest end (epoch ms) and longest duration (ms)."""
    fmt = "fmt:%sa|%da|%sp|%dp|%pr|%tos|%pkt|%byt|%ts|%te"
    # %ts/%te are printed in local time: pin the zone.
    out = run(["nfdump", "-R", flows_dir, "-q", "-N", "-o", fmt], env={**os.environ, "TZ": "UTC"})
    totals = collections.defaultdict(lambda: [0, 0])
    records, first_ms, last_ms, longest_ms = 0, None, None, 0
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 10:
            continue
        sa, da, sp, dp, pr, tos, pkt, byt, ts, te = fields
        proto = int(pr) if pr.isdigit() else PROTO_NAMES[pr.upper()]
        key = (sa, da, parse_port(sp, proto), parse_port(dp, proto), proto, int(tos))
        totals[key][0] += int(pkt)
        totals[key][1] += int(byt)
        records += 1
        start, end = epoch_ms(ts), epoch_ms(te)
        first_ms = start if first_ms is None else min(first_ms, start)
        last_ms = end if last_ms is None else max(last_ms, end)
        longest_ms = max(longest_ms, end - start)
    return records, totals, (first_ms, last_ms, longest_ms)


def epoch_ms(text):
    when = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return round(when.timestamp() * 1000)


def compare_flow_maps(report, source, got, want):
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    differ = [k for k in want if k in got and got[k] != want[k]]
    ok = report.check(not (missing or extra or differ),
                      f"{source} per-key packets/bytes vs expected IPv4 flows: {len(want)} keys expected, "
                      f"{len(got)} seen, {len(missing)} missing, {len(extra)} extra, {len(differ)} differ")
    if not ok:
        for k in differ[:MAX_SHOWN]:
            print(f"       differ  {k}: {source} {got[k]} expected {want[k]}")
        for k in missing[:MAX_SHOWN]:
            print(f"       missing {k}: expected {want[k]}")
        for k in extra[:MAX_SHOWN]:
            print(f"       extra   {k}: {source} {got[k]}")


def nfcapd_stats(path):
    # On SIGTERM nfcapd 1.7.1 logs "Ident: 'x' Flows: F, Packets: P, Bytes: B,
    # Sequence Errors: S, Bad Packets: X" (flow totals, not datagram counts).
    text = open(path, errors="replace").read()
    m = re.findall(r"Flows: (\d+), Packets: (\d+), Bytes: (\d+), Sequence Errors: (\d+), Bad Packets: (\d+)", text)
    return [int(x) for x in m[-1]] if m else None


def tshark_fields(capture, port, fields, display_filter=None):
    # Only the export datagrams: the capture also holds lib.sh's probe datagrams.
    only_export = f"udp.dstport == {port}"
    cmd = ["tshark", "-n", "-r", capture, "-d", f"udp.port=={port},cflow", "-T", "fields",
           "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,",
           "-Y", f"({only_export}) && ({display_filter})" if display_filter else only_export]
    for f in fields:
        cmd += ["-e", f]
    return [line.split("|") for line in run(cmd).splitlines()]


def check_capture(report, capture, port, summary, export_rate):
    """The datagrams on the wire, as tshark decodes them. Returns per-key totals."""
    fields = ["frame.time_epoch", "udp.length", "cflow.version", "cflow.count", "cflow.sequence", "cflow.srcaddr", "cflow.dstaddr",
              "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.tos", "cflow.packets", "cflow.octets"]
    rows = tshark_fields(capture, port, fields)
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
            key = (src, dst, int(sp), int(dp), int(proto), int(tos, 0))
            totals[key][0] += int(pkts)
            totals[key][1] += int(octets)
    report.check(not bad_layout, f"every datagram a well-formed v5 PDU (24+48*count bytes, 1..30 records): "
                                 f"{len(bad_layout)} bad" + (f", first frames {bad_layout[:MAX_SHOWN]}" if bad_layout else ""))
    report.check(not bad_sequence, f"flow_sequence advances by the record count: {len(bad_sequence)} breaks"
                 + (f", first (frame, got, expected) {bad_sequence[:MAX_SHOWN]}" if bad_sequence else ""))
    report.equal("sum of cflow record counts (= netflowd records)", records, summary.get("records"))
    if len(rows) > 1 and export_rate:
        # Pacing: n datagrams at export_rate/s need (n-1)/rate seconds; allow
        # an initial burst of up to 0.1 s worth of datagrams.
        span = float(rows[-1][0]) - float(rows[0][0])
        need = (len(rows) - 1) / export_rate - 0.1
        report.check(span >= need, f"export paced at <= {export_rate} datagrams/s: {len(rows)} datagrams in "
                                   f"{span:.3f} s ({(len(rows) - 1) / max(span, 1e-9):.0f}/s)")

    # tshark 4.0 accepts comparisons on the expert severity by name.
    malformed = tshark_fields(capture, port, ["frame.number"], "_ws.malformed")
    report.equal("frames flagged _ws.malformed", len(malformed), 0)
    errors = tshark_fields(capture, port, ["frame.number", "_ws.expert.message"], "_ws.expert.severity >= error")
    report.equal("frames with an error-level expert item", len(errors), 0)
    for row in errors[:MAX_SHOWN]:
        print(f"       frame {row[0]}: {row[1][:160]}")
    return totals


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default="run")
    ap.add_argument("--expected", required=True)
    ap.add_argument("--nfgen-summary", required=True)
    ap.add_argument("--netflowd-stderr", required=True)
    ap.add_argument("--flows-dir", required=True)
    ap.add_argument("--nfcapd-log", required=True)
    ap.add_argument("--capture", required=True)
    ap.add_argument("--tshark-log")
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--active-timeout", type=int, default=60, help="as given to netflowd (s)")
    ap.add_argument("--inactive-timeout", type=int, default=15, help="as given to netflowd (s)")
    ap.add_argument("--export-rate", type=int, default=0, help="as given to netflowd (datagrams/s), 0: unchecked")
    ap.add_argument("--probe-port", type=int, help="lib.sh's marker datagrams (ignored here)")
    return ap.parse_args()


class Truth:
    """nfgen's summary and expected CSV, split into what v5 can and cannot carry."""

    def __init__(self, summary_path, csv_path):
        self.summary = {k: int(v) for k, v in key_value_pairs(open(summary_path).read()).items()}
        self.v4, (self.v6_packets, self.v6_bytes) = read_expected(csv_path)
        self.v4_packets = sum(c[0] for c in self.v4.values())
        self.v4_bytes = sum(c[1] for c in self.v4.values())


def check_summary(report, truth, summary):
    print(" netflowd summary vs nfgen:")
    t = truth.summary
    report.equal("packets (all frames read)", summary.get("packets"), t["packets"])
    report.equal("metered packets", summary.get("metered"), t["counted"])
    report.equal("metered bytes", summary.get("bytes"), truth.v4_bytes + truth.v6_bytes)
    report.equal("dropped", summary.get("dropped"), t["non_ip"] + t["malformed"])
    report.equal("non_ip", summary.get("non_ip"), t["non_ip"])
    report.equal("malformed", summary.get("malformed"), t["malformed"])
    report.equal("not_exportable_packets (IPv6 packets)", summary.get("not_exportable_packets"), truth.v6_packets)
    report.equal("not_exportable_bytes (IPv6 bytes)", summary.get("not_exportable_bytes"), truth.v6_bytes)
    report.equal("send_errors", summary.get("send_errors"), 0)


def check_collector(report, truth, summary, args):
    print(" nfcapd / nfdump:")
    records, got_nfdump, (first_ms, last_ms, longest_ms) = nfdump_records(args.flows_dir)
    report.equal("records read by nfdump (= netflowd records)", records, summary.get("records"))
    compare_flow_maps(report, "nfdump", got_nfdump, truth.v4)
    if records:
        # Packet timestamps drive netflowd's clock in --read mode, so flow
        # times must lie inside the capture. nfdump derives them from the v5
        # header (unix_secs/unix_nsecs, sysUptime) and first/last: a header in
        # microseconds instead of nanoseconds would shift them by up to 1 s.
        lo, hi = truth.summary["first_ts_us"] // 1000, -(-truth.summary["last_ts_us"] // 1000)
        report.check(lo - TIME_SLACK_MS <= first_ms and last_ms <= hi + TIME_SLACK_MS,
                     f"record times within the capture [{lo}, {hi}] ms: first start {first_ms}, last end {last_ms}")
        # A flow idle for inactive_timeout ends, one older than active_timeout
        # is cut: no record can span more than the sum.
        report.check(longest_ms <= (args.active_timeout + args.inactive_timeout) * 1000,
                     f"longest record {longest_ms} ms <= active+inactive timeout "
                     f"({args.active_timeout}+{args.inactive_timeout} s)")
    stats = nfcapd_stats(args.nfcapd_log)
    if report.check(stats is not None, "nfcapd printed its statistics on SIGTERM"):
        flows, packets, octets, seq_errors, bad = stats
        report.equal("nfcapd flows", flows, records)
        report.equal("nfcapd packets", packets, truth.v4_packets)
        report.equal("nfcapd bytes", octets, truth.v4_bytes)
        report.equal("nfcapd sequence errors", seq_errors, 0)
        report.equal("nfcapd bad packets", bad, 0)


def check_export_capture(report, truth, summary, args):
    print(" tshark capture of the export:")
    if args.tshark_log:
        dropped = re.findall(r"(\d+) packets? dropped", open(args.tshark_log, errors="replace").read())
        report.check(not dropped or all(d == "0" for d in dropped),
                     "capture complete (tshark reports no drops)" + (f": dropped {dropped}" if dropped else ""))
    got_tshark = check_capture(report, args.capture, args.port, summary, args.export_rate)
    compare_flow_maps(report, "tshark cflow", got_tshark, truth.v4)


def main():
    args = parse_args()
    report = Report(args.label)
    print(f"== {args.label}")
    truth = Truth(args.nfgen_summary, args.expected)
    summary = netflowd_summary(args.netflowd_stderr)
    if not report.check(summary is not None, "netflowd printed a 'netflowd: summary' line"):
        return finish(report)
    # Each part reports on its own: a broken tool run fails that part only.
    for part in (check_summary, check_collector, check_export_capture):
        try:
            if part is check_summary:
                part(report, truth, summary)
            else:
                part(report, truth, summary, args)
        except (RuntimeError, OSError, KeyError, ValueError) as e:
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
