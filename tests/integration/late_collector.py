#!/usr/bin/env python3
"""Checks a "late collector" run of netflowd (v9 or IPFIX), see late_collector.sh.

Inputs: tshark's capture of the whole export (--full, from before netflowd's
first datagram), the late collector's capture (--late, started mid-run),
netflowd's stderr, and optionally the nfcapd files of a replay of the late
capture. Times are export times from the message headers (v9: sysUpTime,
ms; IPFIX: export time, whole seconds), i.e. capture time, not wall time.

With timeout_rate T > 0 (refresh_rate huge, so only time refreshes):
  whole    complete and well-formed (no layout problem, no data set without
           template, no malformed frame or error-level expert item); every
           data template re-sent every T minutes (gaps within T*60 +- 3 s)
           up to the end of the capture, including at least one template
           whose data stopped long before (re-sent by the timer alone).
  late     a suffix of the whole export (same sequence numbers from its first
           message on); really late: it starts after templates it needs were
           sent, so it holds data it cannot decode yet, and it spans more
           than the window W = T*60 + 3 s; within W of its first message
           every template known before it started is re-sent, and no data
           set arriving after that lacks its template (per template id: none
           after its first template set); tshark's "no template found" marks
           match the template bookkeeping set by set.
  nfcapd   (replay of the late capture) stores exactly the flow records
           tshark decodes from the late capture: count and per-key totals
           (after nfdump's known quirks).
With --expect-stale (timeout_rate=0, the self-check): each data template is
sent exactly once, and the late collector still has undecodable data after
the window: the checks above would fail. Exit status 0 when that is so.

Exit status 1: a check failed; 3: the late start came too early or too late
to test anything (a timing accident of the run, not a verdict on netflowd).
"""
import argparse
import collections
import sys

from compare_flows import Report, collector_view, compare_flow_maps, icmp_facts, netflowd_summary, nfcapd_stats, \
    nfdump_output, nfdump_records
from netflow_capture import decode_v9_ipfix

SLACK_S = 3  # template sent_at -> message export time (flush within ~1.1 s) + IPFIX whole seconds
MAX_SHOWN = 8


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default="late")
    ap.add_argument("--protocol", type=int, choices=(9, 10), required=True)
    ap.add_argument("--full", required=True, help="capture of the whole export")
    ap.add_argument("--late", required=True, help="the late collector's capture")
    ap.add_argument("--port", type=int, required=True, help="netflowd's destination port in both captures")
    ap.add_argument("--timeout-rate", type=int, required=True, help="as given to netflowd (minutes)")
    ap.add_argument("--netflowd-stderr", required=True)
    ap.add_argument("--flows-dir", help="nfcapd files of the replayed late capture")
    ap.add_argument("--nfcapd-log")
    ap.add_argument("--expect-stale", action="store_true",
                    help="self-check: timeout_rate=0, the late collector must NOT learn old templates")
    return ap.parse_args()


def integrity(report, name, messages, allow_undecodable):
    report.none(f"{name}: layout problems (frame, problem)", [(m.frame, p) for m in messages for p in m.problems])
    # tshark's "no template found" is a Malformed-group expert item, so it
    # sets _ws.malformed too: only frames holding such a set may carry it.
    report.none(f"{name}: frames flagged _ws.malformed (other than for a data set without template)",
                [m.frame for m in messages if m.malformed and not m.undecodable])
    report.none(f"{name}: frames with an error-level expert item",
                [(m.frame, m.error_expert[0]) for m in messages if m.error_expert])
    # tshark's own template state must agree with the bookkeeping.
    report.none(f"{name}: frames where tshark's 'no template found' count differs from the bookkeeping "
                "(frame, tshark, ours)",
                [(m.frame, m.tshark_no_template, len(m.undecodable)) for m in messages
                 if m.tshark_no_template != len(m.undecodable)])
    if not allow_undecodable:
        report.none(f"{name}: data sets without a known template (frame, id)",
                    [(m.frame, i) for m in messages for i in m.undecodable])


def data_template_sends(messages):
    sends = collections.defaultdict(list)
    for m in messages:
        for tid in m.data_templates:
            sends[tid].append(m.export_time)
    return sends


def main():
    args = parse_args()
    report = Report(args.label)
    print(f"== {args.label}" + (" (self-check: expecting stale templates)" if args.expect_stale else ""))
    summary = netflowd_summary(args.netflowd_stderr)
    if not report.check(summary is not None, "netflowd printed a 'netflowd: summary' line"):
        return finish(report, args)
    full = decode_v9_ipfix(args.full, args.port)
    late = decode_v9_ipfix(args.late, args.port)

    print(" whole export (captured from the start):")
    report.equal("datagrams (= netflowd datagrams)", len(full), summary.get("datagrams"))
    report.equal("send_errors", summary.get("send_errors"), 0)
    integrity(report, "whole", full, allow_undecodable=False)
    report.equal("flow records (= netflowd records)", sum(m.flow_records for m in full), summary.get("records"))
    sends = data_template_sends(full)
    end = full[-1].export_time if full else 0
    period = args.timeout_rate * 60
    if args.expect_stale:
        report.none("data templates sent more than once (id, times) with timeout_rate=0",
                    [(t, len(s)) for t, s in sends.items() if len(s) > 1])
    else:
        bad_gaps, stale_end = [], []
        for tid, times in sorted(sends.items()):
            for a, b in zip(times, times[1:]):
                if not period - SLACK_S <= b - a <= period + SLACK_S:
                    bad_gaps.append((tid, round(a, 3), round(b, 3)))
            if end - times[-1] > period + SLACK_S:
                stale_end.append((tid, round(times[-1], 3), round(end, 3)))
        report.none(f"data template re-sends not {period} +- {SLACK_S} s apart (id, sent, next)", bad_gaps)
        report.none(f"data templates not re-sent within {period} + {SLACK_S} s before the end (id, last, end)",
                    stale_end)
        report.check(sum(len(s) - 1 for s in sends.values()) > 0,
                     f"templates refreshed by time: {sum(len(s) - 1 for s in sends.values())} re-sends "
                     f"of {len(sends)} data templates")
        # "Even with no traffic": a template whose data stopped must still be
        # re-sent (the gap checks above cover it); the input has one such.
        last_data = {}
        for m in full:
            for set_id, _, _ in m.sets:
                if set_id in sends:
                    last_data[set_id] = m.export_time
        idle = {tid: sum(1 for t in times if t > last_data.get(tid, 0) + SLACK_S)
                for tid, times in sends.items() if end - last_data.get(tid, 0) > period + SLACK_S}
        report.check(bool(idle) and all(idle.values()),
                     f"templates without traffic for more than {period} s, re-sent by the timer alone "
                     f"(id: re-sends after its last data): {idle}")

    print(" late collector:")
    if not late:
        print(f"== {report.label}: SETUP: the late capture holds no export datagram (started after the end)")
        return 3
    integrity(report, "late", late, allow_undecodable=True)
    # A suffix of the whole export: same sequence numbers from its first message on.
    index = next((i for i, m in enumerate(full) if m.sequence == late[0].sequence), None)
    report.check(index is not None and [m.sequence for m in full[index:]] == [m.sequence for m in late],
                 f"late capture = the whole export from message {index} on ({len(late)} of {len(full)} messages)")
    start, last = late[0].export_time, late[-1].export_time
    window = (period or 60) + SLACK_S
    zero = full[0].export_time if full else 0
    print(f"       late start {start - zero:.3f} s into the export, last message at {last - zero:.3f} s, "
          f"window {window} s")
    known_before = {tid for m in full[:index or 0] for tid in m.data_templates}
    undecodable = [(m.frame, i) for m in late for i in m.undecodable]
    # Preconditions: the run must exercise a late start.
    setup = Report(args.label)  # failures here mean the run did not test what it should: exit 3, retried
    setup.check(bool(undecodable) and bool(known_before),
                f"really late: {len(known_before)} data templates were sent before the start, "
                f"{len(undecodable)} data sets arrived before their template")
    setup.check(last - start > window, f"late capture spans more than the window: {last - start:.1f} s > {window} s")
    if setup.failures:
        print(f"== {report.label}: SETUP: the late start did not happen as needed; not a netflowd verdict")
        return 3

    after = [(m.frame, round(m.export_time, 3), i) for m in late for i in m.undecodable if m.export_time > start + window]
    first_in_late = {}
    for m in late:
        for tid in m.data_templates:
            first_in_late.setdefault(tid, m.export_time)
    not_resent = sorted(tid for tid in known_before
                        if tid not in first_in_late or first_in_late[tid] > start + window)
    if args.expect_stale:
        report.check(bool(after) and bool(not_resent),
                     f"self-check: without time refresh the late collector still lacks templates after the window: "
                     f"{len(after)} data sets undecodable after it, {len(not_resent)} old templates never re-sent")
        return finish(report, args)
    report.none(f"data sets arriving more than {window} s after the late start without their template "
                "(frame, export time, id)", after)
    report.none(f"templates known before the late start and not re-sent within {window} s (ids)", not_resent)
    decodable = sum(m.flow_records for m in late)
    print(f"       {decodable} flow records decodable in the late capture, {len(undecodable)} data sets not")

    if args.flows_dir:
        print(" nfcapd fed the late capture:")
        records, got, _, _ = nfdump_records(nfdump_output(args.flows_dir))
        report.equal("records nfdump read (= flow records tshark decodes in the late capture)", records, decodable)
        want = collections.defaultdict(lambda: [0, 0])
        for m in late:
            for f in m.flows:
                want[f[:6]][0] += f[6]
                want[f[:6]][1] += f[7]
        compare_flow_maps(report, "nfdump", got, collector_view(dict(want), "nfdump", args.protocol,
                                                                **icmp_facts(late)))
        stats = nfcapd_stats(args.nfcapd_log) if args.nfcapd_log else None
        if report.check(stats is not None, "nfcapd printed its statistics on SIGTERM"):
            report.equal("nfcapd bad packets", stats[4], 0)
    return finish(report, args)


def finish(report, args):
    if report.failures:
        print(f"== {report.label}: FAILED ({len(report.failures)} checks)")
        return 1
    print(f"== {report.label}: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, KeyError, ValueError, IndexError) as e:
        print(f"late_collector.py: error: {e}")
        sys.exit(1)
