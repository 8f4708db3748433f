#!/usr/bin/env python3
"""Checks a netflowd run that refused new flows for want of memory against nfgen's truth.

nfdump reads what netflowd exported (IPFIX, via nfcapd). Per flow key, nfdump's packets and
bytes are at most nfgen's (a key's packets are all metered, or some of them were refused when
a flow of it had to be created); the difference, summed over every key, equals exactly the
packets and bytes netflowd's summary counts as refused (alloc=, alloc_bytes=). Also: every
frame is accounted for (packets = metered + dropped, dropped = non_ip + malformed + alloc),
the records nfdump read are netflowd's records, and the limit did bite (alloc > 0) without
stopping everything (most of the traffic metered is not required, some is).
"""
import argparse
import sys

from compare_flows import Report, Truth, collector_view, netflowd_summary, nfdump_output, nfdump_records


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--expected", required=True)
    ap.add_argument("--nfgen-summary", required=True)
    ap.add_argument("--netflowd-stderr", required=True)
    ap.add_argument("--flows-dir", required=True)
    a = ap.parse_args()
    report = Report("refused")
    truth = Truth(a.nfgen_summary, a.expected, 10)
    s = netflowd_summary(a.netflowd_stderr)
    if s is None:
        print("no 'netflowd: summary' line")
        return 1
    t = truth.summary
    refused, refused_bytes = s.get("alloc", 0), s.get("alloc_bytes", 0)
    print(f" netflowd: metered {s.get('metered')} packets, refused {refused} packets ({refused_bytes} bytes) "
          f"of new flows for want of memory")
    report.check(refused > 0, f"new flows refused for want of memory: {refused} packets (the limit bit)")
    report.check(s.get("metered", 0) > 0, f"packets metered: {s.get('metered')}")
    report.equal("packets (all frames read)", s.get("packets"), t["packets"])
    report.equal("metered + refused (packets)", s.get("metered", 0) + refused, t["counted"])
    report.equal("metered + refused (bytes)", s.get("bytes", 0) + refused_bytes, truth.all_bytes)
    report.equal("dropped = non_ip + malformed + alloc", s.get("dropped"), t["non_ip"] + t["malformed"] + refused)
    report.equal("send_errors", s.get("send_errors"), 0)

    records, got, _, _ = nfdump_records(nfdump_output(a.flows_dir))
    report.equal("records read by nfdump (= netflowd records)", records, s.get("records"))
    want = collector_view(truth.exportable, "nfdump", 10)
    extra = [k for k in got if k not in want]
    over = [k for k in got if k in want and (got[k][0] > want[k][0] or got[k][1] > want[k][1])]
    report.none("keys nfdump shows that nfgen never sent", extra)
    report.none("keys with more packets or bytes than nfgen sent", over)
    missing_packets = sum(w[0] - got.get(k, [0, 0])[0] for k, w in want.items())
    missing_bytes = sum(w[1] - got.get(k, [0, 0])[1] for k, w in want.items())
    whole = sum(1 for k, w in want.items() if got.get(k) == w)
    print(f" nfdump: {len(got)} of {len(want)} keys, {whole} of them whole")
    report.equal("packets nfdump misses (= refused)", missing_packets, refused)
    report.equal("bytes nfdump misses (= refused)", missing_bytes, refused_bytes)
    print(f"refused: {'FAIL' if report.failures else 'ok'}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
