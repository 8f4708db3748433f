#!/usr/bin/env python3
"""End-to-end flow sampling: netflowd --read with sampler=hash|deterministic|random exports to a
real nfcapd; tshark decodes the export.

  hash:N           every exported flow key has exactly its true packet/byte totals (a flow is
                   sampled whole or not at all), about 1/N of the keys are exported, and
                   metered + sampled_out = the packets nfgen counted.
  deterministic:N  exactly floor(flows/N) records (the N-th, 2N-th, ... flow created).
  random:N         about flows/N records.
  every mode       tshark: zero malformed frames; v9 data templates carry samplerId (48), IPFIX
                   selectorId (302); the sampler/selector options record states N; v5 headers
                   carry mode << 14 | N.

usage: sampling_test.py NETFLOWD NFGEN
"""
import collections
import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILURES.append(what)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def summary_of(stderr):
    line = [l for l in stderr.splitlines() if l.startswith("netflowd: summary ")][-1]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def wait_for_udp_port(port):
    for _ in range(100):
        out = subprocess.run(["ss", "-Hlun", f"sport = :{port}"], capture_output=True, text=True).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def run_case(netflowd, capture, expected, work, protocol, sampler):
    flows_dir = os.path.join(work, f"flows-{protocol}-{sampler.replace(':', '-')}")
    os.makedirs(flows_dir)
    port = free_port()
    nfcapd = subprocess.Popen(["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", flows_dir, "-t", "3600"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_udp_port(port)
        pcap = os.path.join(work, f"export-{port}.pcapng")
        # tshark captures the datagrams nfcapd receives.
        tshark = subprocess.Popen(["tshark", "-i", "lo", "-f", f"udp port {port}", "-w", pcap, "-q"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)  # tshark announces itself before it really captures; be generous
        proc = subprocess.run([netflowd, "--read", capture, f"destination=127.0.0.1:{port}", f"protocol={protocol}",
                               f"sampler={sampler}", "active_timeout=60", "inactive_timeout=15", "export_rate=5000"],
                              capture_output=True, text=True, timeout=120)
        time.sleep(1)
        tshark.send_signal(signal.SIGTERM)
        tshark.wait(timeout=30)
    finally:
        nfcapd.send_signal(signal.SIGTERM)
        nfcapd.wait(timeout=30)
    label = f"[v{protocol} {sampler}]"
    check(proc.returncode == 0, f"{label} netflowd exit 0")
    s = summary_of(proc.stderr)
    counted = sum(e[1] for e in expected.values())
    check(s["metered"] + s["sampled_out"] + s["dropped"] == s["packets"],
          f"{label} packets {s['packets']} = metered {s['metered']} + sampled_out {s['sampled_out']} + dropped {s['dropped']}")

    # What nfcapd stored, per key.
    out = subprocess.run(["nfdump", "-R", flows_dir, "-q", "-N", "-6", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%tos|%pkt|%byt"],
                         capture_output=True, text=True, check=True).stdout
    got = collections.defaultdict(lambda: [0, 0])
    for line in out.splitlines():
        f = [x.strip() for x in line.split("|")]
        if len(f) != 8:
            continue
        proto = int(f[4])
        if proto in (1, 58, 50, 51):
            continue  # ICMP/IPsec port conventions differ per collector; TCP/UDP prove the point
        key = (f[0], f[1], int(f[2]), int(f[3]), proto, int(f[5]))
        got[key][0] += int(f[6])
        got[key][1] += int(f[7])
    records = sum(1 for l in out.splitlines() if l.strip())
    check(records == s["records"], f"{label} nfcapd stored {records} records = netflowd's {s['records']}")

    mode = sampler.split(":")[0]
    n = int(sampler.split(":")[1])
    exportable = {k: v for k, v in expected.items() if k[4] not in (1, 58, 50, 51) and (protocol != 5 or ":" not in k[0])}
    if mode == "hash":
        wrong = [k for k in got if k not in exportable or tuple(got[k]) != (exportable[k][1], exportable[k][2])]
        check(not wrong, f"{label} every exported flow has exactly its true totals ({len(got)} keys, {len(wrong)} wrong)"
              + (f": e.g. {wrong[0]} got {got[wrong[0]]} want {exportable.get(wrong[0])}" if wrong else ""))
        share = len(got) / max(1, len(exportable))
        check(0.6 / n < share < 1.6 / n, f"{label} {len(got)} of {len(exportable)} keys exported ({share:.3f}, 1/N = {1 / n:.3f})")
        check(s["metered"] < counted, f"{label} hash sampling meters fewer packets ({s['metered']} < {counted})")
    elif mode == "deterministic":
        check(s["sampler_flows_selected"] == s["flows"] // n,
              f"{label} selected {s['sampler_flows_selected']} = flows {s['flows']} // {n}")
        check(s["records"] + s["not_exportable_flows"] == s["sampler_flows_selected"],
              f"{label} records {s['records']} (+ not exportable {s['not_exportable_flows']}) = selected flows")
    else:
        share = s["sampler_flows_selected"] / max(1, s["sampler_flows_observed"])
        check(0.7 / n < share < 1.3 / n, f"{label} random selected {share:.3f} of flows (1/N = {1 / n:.3f})")

    # tshark: decodes everything, and the rate is signalled.
    bad = subprocess.run(["tshark", "-r", pcap, "-d", f"udp.port=={port},cflow", "-Y",
                          "_ws.malformed || _ws.expert.severity >= error"], capture_output=True, text=True).stdout
    check(not bad.strip(), f"{label} tshark: no malformed frame, no expert error")
    verbose = subprocess.run(["tshark", "-r", pcap, "-d", f"udp.port=={port},cflow", "-V"],
                             capture_output=True, text=True).stdout
    if protocol == 5:
        check(f"SampleRate: {n}" in verbose, f"{label} v5 headers carry the sample rate {n}")
    elif protocol == 9:
        check("FLOW_SAMPLER_ID (48)" in verbose, f"{label} v9 templates carry samplerId")
        check(re.search(rf"SamplerRandomInterval: {n}\b", verbose) is not None,
              f"{label} SAMPLER options record states N = {n}")
    else:
        check("selectorId (302)" in verbose, f"{label} IPFIX templates carry selectorId")
        pattern = (rf"Sampling[ _]Flow[ _]Spacing: {n - 1}\b" if mode == "deterministic"  # 1 selected, N-1 skipped
                   else rf"Sampling[ _]Population: {n}\b")
        check(re.search(pattern, verbose) is not None, f"{label} selector options record states N")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    netflowd, nfgen = sys.argv[1], sys.argv[2]
    for tool in ("nfcapd", "nfdump", "tshark", "ss"):
        if shutil.which(tool) is None:
            print(f"skipped: {tool} missing")
            return 77
    work = tempfile.mkdtemp(prefix="netflowd-sampling.")
    try:
        capture = os.path.join(work, "input.pcap")
        expected_csv = os.path.join(work, "expected.csv")
        subprocess.run([nfgen, "--out", capture, "--expected", expected_csv, "--packets", "100000", "--flows", "5000",
                        "--seed", "11"], check=True, stdout=subprocess.DEVNULL)
        expected = {}
        with open(expected_csv) as f:
            for r in csv.DictReader(f):
                key = (r["src"], r["dst"], int(r["sport"]), int(r["dport"]), int(r["proto"]), int(r["tos"]))
                expected[key] = (key, int(r["packets"]), int(r["bytes"]))
        for protocol, sampler in ((10, "hash:4"), (9, "hash:3"), (9, "deterministic:5"), (10, "deterministic:4"),
                                  (10, "random:4"), (5, "deterministic:7")):
            run_case(netflowd, capture, expected, work, protocol, sampler)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'all sampling checks passed' if not FAILURES else str(len(FAILURES)) + ' check(s) failed'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
