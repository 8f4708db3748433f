#!/usr/bin/env python3
"""fields.options_netns: options records, in a network namespace of known interfaces.

Outer part (root): creates network namespace nfd-opt-PID with lo up and a
veth pair (nfd-veth0 with alias "uplink to core", nfd-veth1), then re-runs
this script inside it (ip netns exec); the namespace is deleted on every
exit. Inner part: tshark on the namespace's lo, netflowd --read of a crafted
130-second capture (flows, non-IP and malformed frames) with protocol 9,
then 10, and checks the options records against docs/export-formats.md:

- interfaces: exactly the namespace's interfaces (ifindex, name, alias or
  link type name), as `ip -j link show` lists them;
- system init: observationDomainName starts with "netflowd", systemInit and
  flowStart/End = first packet (ms); sampling: interval 1, algorithm 1;
- metering statistics (one per 60 s of packet time, here 2): exported
  message/record/octet totals equal what the capture shows was sent before
  the message that carries the record; observedFlowTotalCount = flows seen
  before it, <= netflowd's summary flows, non-decreasing;
- metering reliability: ignoredPacketTotalCount/OctetTotalCount = the
  non-IP + malformed frames (and their wire lengths) read before it,
  flowStart/End = the first/last of them (ms); no exporting reliability.

usage: options_netns.py --netflowd PATH
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases as C  # noqa: E402
import fieldslib as L  # noqa: E402
import pcapcraft as pc  # noqa: E402

NS_PREFIX = "nfd-opt-"
ALIAS = "uplink to core"
LINK_TYPE_NAMES = {"loopback": "Loopback", "ether": "Ethernet"}  # docs: "alias or link type name"

VERBOSE = os.environ.get("NETFLOWD_TEST_VERBOSE") == "1"
T0 = 1_700_100_000  # first packet, on a whole second
S = C.S


# ------------------------------------------------------------------ the capture

def ms(t):
    """Relative seconds -> absolute microseconds (sub-millisecond parts kept below 0.5 ms)."""
    return T0 * S + round(t * S)


def build_capture():
    """(frames [(ts_us, bytes, wire)], flow keys [(ts_us, key)], ignored [(ts_us, wire)])."""
    frames, flows, ignored = [], [], []

    def valid(t, l3, l4):
        p = C.packet(ms(t), l3, l4)
        frames.append((p.ts_us, p.frame, len(p.frame)))
        flows.append((p.ts_us, C.flow_key(p, {})))

    def bad(t, frame, wire=None):
        wire = len(frame) if wire is None else wire
        frames.append((ms(t), frame, wire))
        ignored.append((ms(t), wire))

    a4, b4 = "10.1.1.1", "10.1.1.2"
    mac_a, mac_b = C.MAC_A, C.MAC_B
    arp = pc.ethernet("ff:ff:ff:ff:ff:ff", mac_a, pc.ETH_ARP, bytes.fromhex(
        "0001080006040001") + pc.mac_bytes(mac_a) + pc.ip_bytes(a4) + bytes(6) + pc.ip_bytes(b4))
    lldp = pc.ethernet("01:80:c2:00:00:0e", mac_a, 0x88CC, bytes.fromhex("020704") + bytes(6) + b"\0\0")
    good_ip = pc.ipv4(a4, b4, 17, pc.udp(a4, b4, 1, 2, b"x" * 20))
    ihl3 = bytes([0x43]) + good_ip[1:]  # header length 12 < 20
    too_long = good_ip[:2] + (len(good_ip) + 100).to_bytes(2, "big") + good_ip[4:]  # total length past the frame
    version5 = bytes([0x55]) + good_ip[1:]  # IP version 5 in an IPv4 EtherType

    keep = (C.V4(a4, b4), C.Udp(4000, 4001, 32))  # K: keeps the clock going, never idle 15 s
    k_times = [5.0 * i for i in range(0, 12)] + [65.0 + 5.0 * i for i in range(0, 11)] + [127.0, 130.0]
    for t in k_times:
        valid(t, *keep)
    valid(0.010, C.V4(a4, b4), C.Udp(5000, 5001, 10))  # A
    valid(5.000123, C.V4(a4, b4), C.Udp(5000, 5001, 10))
    valid(0.020, C.V4(b4, a4), C.Tcp(80, 40000, 0x12))  # B
    valid(2.000200, C.V4(a4, b4), C.Icmp(8, 0))  # C
    valid(80.0, C.V6("2001:db8::1", "2001:db8::2"), C.Udp(53, 5353, 40))  # D
    valid(90.0, C.V4(a4, "10.1.1.3"), C.Tcp(1234, 22, 0x02))  # E
    valid(91.000400, C.V4(a4, "10.1.1.3"), C.Tcp(1234, 22, 0x10))

    # first minute: 5 frames netflowd cannot meter
    bad(0.030, arp)  # non-IP
    bad(1.000, pc.ethernet(mac_b, mac_a, pc.ETH_IPV4, ihl3))  # bad header length
    bad(3.000300, pc.ethernet(mac_b, mac_a, pc.ETH_IPV4, too_long, pad=False))  # bad total length
    frame = pc.ethernet(mac_b, mac_a, pc.ETH_IPV4, good_ip, pad=False)
    bad(4.000, frame[:24], wire=len(frame))  # cut by the snap length inside the IP header
    bad(6.000, lldp)  # non-IP
    # second minute: 3 more
    bad(70.000, pc.ethernet(mac_b, mac_a, pc.ETH_IPV4, version5))  # bad version
    bad(75.000250, arp)
    bad(100.000, bytes(10))  # shorter than an Ethernet header
    # after the last statistics: counted in the summary only
    bad(128.000, arp)

    frames.sort(key=lambda f: f[0])
    return frames, flows, ignored, {"non_ip": 4, "malformed": 5}


# triggers: the first packet at or after 60 s (and after 120 s) belongs to flow K; nothing
# else arrives in [55, 65) or [115, 127), so no boundary decides what a record counts
STATS_AT = [65.0, 127.0]


# ------------------------------------------------------------------ checks

def expected_interfaces():
    out = subprocess.run(["ip", "-j", "link", "show"], stdout=subprocess.PIPE, check=True).stdout
    want = []
    for link in json.loads(out):
        descr = link.get("ifalias") or LINK_TYPE_NAMES.get(link.get("link_type"))
        if descr is None:
            raise RuntimeError("no description known for link type %r of %s" % (link.get("link_type"),
                                                                                 link["ifname"]))
        want.append((int(link["ifindex"]), link["ifname"], descr))
    return sorted(want)


def check_sent_at(version, message, at, what, frames):
    """The message carrying a statistics record leaves when the packet clock reaches the trigger
    (nothing else arrives between the 60-s mark and it), or, for a final record, at the end."""
    want_ms = (T0 * S + round(at * S)) // 1000 if at is not None else frames[-1][0] // 1000
    if version == 9:
        got_ms = T0 * 1000 + L.reltime_ms(message.h("cflow.sysuptime"))  # sysUpTime 0 = first packet, at T0
        if got_ms != want_ms:
            return ["%s: v9 sysUpTime says sent at +%.3f s, expected +%.3f s" % (
                what, (got_ms - T0 * 1000) / 1000, (want_ms - T0 * 1000) / 1000)]
    else:
        got_s = int(message.h("cflow.exporttime"))
        if got_s != want_ms // 1000:
            return ["%s: IPFIX export time +%d s, expected +%d s" % (what, got_s - T0, want_ms // 1000 - T0)]
    return []


def check_run(version, messages, summary, frames, flows, ignored, counts, interfaces, bad):
    errs = list(L.check_messages(messages, version))
    errs += ["tshark: malformed/expert error: %s" % b for b in bad]
    opts = L.options_records(messages, version)
    kinds = [k for k, _, _ in opts]
    for kind, n in (("system_init", 1), ("sampling", 1), ("interfaces", len(interfaces)), ("exporting_reliability", 0),
                    (None, 0)):
        if kinds.count(kind) != n:
            errs.append("%s records: expected %d, got %d" % (kind or "unknown options", n, kinds.count(kind)))
    # one per 60 s of packet time; one more at the end of the capture is not promised but allowed
    for kind in ("metering_stats", "metering_reliability"):
        if not len(STATS_AT) <= kinds.count(kind) <= len(STATS_AT) + 1:
            errs.append("%s records: expected %d (or %d with a final one), got %d" % (
                kind, len(STATS_AT), len(STATS_AT) + 1, kinds.count(kind)))

    t0_ms = frames[0][0] // 1000

    def abs_ms(r, f):
        v = r.get(f)
        return L.abstime_ms(v) if isinstance(v, str) else v

    def num(r, f):
        v = r.get(f)
        return int(v) if isinstance(v, str) else v

    got_ifaces = []
    stats_i = 0
    rel_i = 0
    last_observed = -1
    for kind, r, mi in opts:
        if kind == "interfaces":
            got_ifaces.append((num(r, "cflow.inputint"), r.get("cflow.if_name"), r.get("cflow.if_descr")))
        elif kind == "system_init":
            dn = r.get("cflow.observation_domain_name") or ""
            if not dn.startswith("netflowd"):
                errs.append("system init observationDomainName %r does not start with 'netflowd'" % dn)
            for f in ("cflow.sys_init_time", "cflow.abstimestart", "cflow.abstimeend"):
                if abs_ms(r, f) != t0_ms:
                    errs.append("system init %s: expected %d (first packet), got %s" % (f, t0_ms, abs_ms(r, f)))
        elif kind == "sampling":
            if r.get("cflow.sampling_interval") != "1" or r.get("cflow.sampling_algorithm") != "1":
                errs.append("sampling record: interval %s algorithm %s, expected 1 and 1" % (
                    r.get("cflow.sampling_interval"), r.get("cflow.sampling_algorithm")))
        elif kind == "metering_stats":
            before = messages[:mi]
            at = STATS_AT[stats_i] if stats_i < len(STATS_AT) else None
            stats_i += 1
            errs += check_sent_at(version, messages[mi], at, "metering statistics #%d" % stats_i, frames)
            t_us = T0 * S + round(at * S) if at is not None else frames[-1][0] + 1
            seen = len({k for ts, k in flows if ts < t_us})
            want = {
                "exportedMessageTotalCount (41)": (len(before), "cflow.packetsexp"),
                "exportedFlowRecordTotalCount (42)": (sum(len(m.flow_records()) for m in before), "cflow.flowsexp"),
                "exportedOctetTotalCount (40)": (sum(m.payload_len for m in before), "cflow.octetsexp"),
                "observedFlowTotalCount (163)": (seen, None),
            }
            for label, (value, field) in want.items():
                got = num(r, field) if field else observed_count(r)
                if VERBOSE:
                    L.log("  v%d metering statistics #%d: %s expected %s got %s" % (version, stats_i, label, value, got))
                if got != value:
                    errs.append("metering statistics #%d (sent at +%s s, message %d): %s expected %s, got %s" % (
                        stats_i, at if at is not None else "end", mi, label, value, got))
            obs = observed_count(r)
            if stats_i >= len(STATS_AT) and obs != summary.get("flows"):
                # every flow of the capture starts before the last trigger (127 s)
                errs.append("last metering statistics: observedFlowTotalCount %s != summary flows %s" % (
                    obs, summary.get("flows")))
            if isinstance(obs, int):
                if obs > summary.get("flows", 0):
                    errs.append("observedFlowTotalCount %d > summary flows %s" % (obs, summary.get("flows")))
                if obs < last_observed:
                    errs.append("observedFlowTotalCount went down: %d after %d" % (obs, last_observed))
                last_observed = obs
        elif kind == "metering_reliability":
            at = STATS_AT[rel_i] if rel_i < len(STATS_AT) else None
            rel_i += 1
            errs += check_sent_at(version, messages[mi], at, "metering reliability #%d" % rel_i, frames)
            t_us = T0 * S + round(at * S) if at is not None else frames[-1][0] + 1
            before = [(ts, w) for ts, w in ignored if ts < t_us]
            want = {"cflow.ignore_packets": len(before), "cflow.ignore_octets": sum(w for _, w in before)}
            for f, value in want.items():
                if VERBOSE:
                    L.log("  v%d metering reliability #%d: %s expected %s got %s" % (version, rel_i, f, value, r.get(f)))
                if num(r, f) != value:
                    errs.append("metering reliability #%d (sent at +%s s): %s expected %d, got %s" % (
                        rel_i, at if at is not None else "end", f, value, r.get(f)))
            for f, value in (("cflow.abstimestart", before[0][0] // 1000), ("cflow.abstimeend", before[-1][0] // 1000)):
                if abs_ms(r, f) != value:
                    errs.append("metering reliability #%d: %s expected %d (first/last ignored frame), got %s" % (
                        rel_i, f, value, abs_ms(r, f)))
    if sorted(got_ifaces) != interfaces:
        errs.append("interface records:\n      expected %s\n      got      %s" % (interfaces, sorted(got_ifaces)))

    n_flows = len({k for _, k in flows})
    want = {"packets": len(frames), "metered": len(frames) - len(ignored), "flows": n_flows, "records": n_flows,
            "dropped": len(ignored), "non_ip": counts["non_ip"], "malformed": counts["malformed"], "send_errors": 0,
            "datagrams": len(messages)}
    for k, v in want.items():
        if summary.get(k) != v:
            errs.append("summary %s: expected %s, got %s" % (k, v, summary.get(k)))
    return errs


def observed_count(r):
    """observedFlowTotalCount (163): tshark 4.0 calls it "Flows", field cflow.flows."""
    v = r.get("cflow.flows")
    return int(v) if isinstance(v, str) else "<absent: fields %s>" % sorted(r.fields)


# ------------------------------------------------------------------ inner / outer

def inner(args):
    L.install_signal_handlers()
    failures = 0
    with L.Scope("netflowd-options.") as scope:
        interfaces = expected_interfaces()
        L.log("namespace interfaces: %s" % interfaces)
        frames, flows, ignored, counts = build_capture()
        pcap = os.path.join(scope.workdir, "options.pcap")
        pc.write_pcap(pcap, frames)
        ports = {9: scope.udp_socket().getsockname()[1], 10: scope.udp_socket().getsockname()[1]}
        cap = L.Capture(scope, "export", ports.values())
        summaries = {}
        for version, port in ports.items():
            cmd = [args.netflowd, "--read", pcap, "destination=127.0.0.1:%d" % port, "protocol=%d" % version,
                   "active_timeout=1800", "inactive_timeout=15"]
            err_path = os.path.join(scope.workdir, "netflowd.%d.err" % version)
            with open(err_path, "wb") as err:
                rc = scope.run(cmd, timeout=60, stdout=subprocess.DEVNULL, stderr=err)
            text = open(err_path, "rb").read().decode(errors="replace")
            if rc != 0:
                L.log("FAIL netflowd exited with %d: %s\n%s" % (rc, " ".join(cmd), text))
                return 1
            summaries[version] = L.parse_summary(text)
        cap.stop()
        decoded = L.decode(cap.pcap, list(ports.values()), None)
        bad = L.bad_frames(cap.pcap, list(ports.values()))
        for version, port in ports.items():
            msgs = decoded[port]
            errs = check_run(version, msgs, summaries[version], frames, flows, ignored, counts, interfaces,
                             [b for b in bad if b.split("\t")[1:2] == [str(port)]])
            cmd = "ip netns exec NS netflowd --read options.pcap destination=127.0.0.1:%d protocol=%d" % (
                port, version)
            if errs:
                failures += 1
                L.log("FAIL [options v%d] %s" % (version, cmd))
                for e in errs:
                    print("  [options v%d] %s" % (version, e), file=sys.stderr)
            else:
                L.log("ok   [options v%d] %d datagrams, %d options records" % (
                    version, len(msgs), sum(1 for m in msgs for r in m.records() if r.is_options())))
    return 1 if failures else 0


def ip(*args, tries=5, check=True):
    """Runs `ip ARGS`; retried a few times, since another test creating or deleting namespaces
    at the same moment can make `ip netns` fail transiently."""
    for attempt in range(tries):
        res = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if res.returncode == 0 or not check:
            return res
        L.log("ip %s: %s (attempt %d)" % (" ".join(args), res.stderr.decode(errors="replace").strip(), attempt + 1))
        time.sleep(0.2)
    raise RuntimeError("ip %s failed: %s" % (" ".join(args), res.stderr.decode(errors="replace").strip()))


def namespaces():
    try:
        return os.listdir("/run/netns")
    except FileNotFoundError:
        return []


def delete_stale_namespaces():
    """Namespaces this test left behind when it was killed (SIGKILL): nfd-opt-PID of a dead PID."""
    for name in namespaces():
        pid = name[len(NS_PREFIX):]
        if name.startswith(NS_PREFIX) and pid.isdigit() and not os.path.exists("/proc/%s" % pid):
            L.log("deleting stale namespace %s" % name)
            ip("netns", "delete", name, check=False)


def outer(args):
    L.install_signal_handlers()
    L.require_tools("ip", "tshark", "dumpcap")
    if os.geteuid() != 0:
        L.log("FAIL: needs root (network namespaces, capture on lo)")
        return 1
    if not os.access(args.netflowd, os.X_OK):
        L.log("netflowd not executable: %s" % args.netflowd)
        return 2
    delete_stale_namespaces()
    ns = "%s%d" % (NS_PREFIX, os.getpid())
    with L.Scope("netflowd-options-outer.") as scope:
        def delete_ns():
            if ns in namespaces():
                ip("netns", "delete", ns)
                L.log("deleted namespace %s" % ns)
        scope.callbacks.append(delete_ns)
        ip("netns", "add", ns)
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "link", "add", "nfd-veth0", "type", "veth", "peer", "name", "nfd-veth1")
        ip("-n", ns, "link", "set", "nfd-veth0", "alias", ALIAS)
        ip("-n", ns, "link", "set", "nfd-veth0", "up")
        ip("-n", ns, "link", "set", "nfd-veth1", "up")
        # a dummy interface too where the kernel has the module (not required)
        ip("-n", ns, "link", "add", "nfd-dummy0", "type", "dummy", check=False)
        L.log("namespace %s: lo, nfd-veth0 (alias %r), nfd-veth1" % (ns, ALIAS))
        rc = scope.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__), "--inner",
                        "--netflowd", args.netflowd], timeout=240)
    return rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netflowd", required=True)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    return inner(args) if args.inner else outer(args)


if __name__ == "__main__":
    sys.exit(main())
