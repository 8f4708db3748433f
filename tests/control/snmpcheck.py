#!/usr/bin/env python3
"""control.snmp's check of an snmpwalk of IPT-NETFLOW-MIB against netflowctl (stdlib only).

usage: snmpcheck.py WALK STAT_SNMP GET WORKERS DESTINATIONS
WALK: `snmpwalk -v2c -On -OU -Oe -Ot` output; STAT_SNMP: `netflowctl stat --snmp` and GET:
`netflowctl get`, without their OK lines, taken with the traffic stopped."""
import sys

ROOT = ".1.3.6.1.4.1.37476.9000.10.1"
FAILED = []


def fail(msg):
    FAILED.append(msg)
    print("FAIL: " + msg)


def parse_walk(path):
    out = []
    for line in open(path):
        line = line.rstrip("\n")
        if " = " not in line:
            continue  # continuation of a multi-line string
        oid, rest = line.split(" = ", 1)
        if rest == '""':  # net-snmp prints an empty string without its type
            out.append((oid, "STRING", ""))
            continue
        typ, _, value = rest.partition(": ")
        out.append((oid, typ, value.strip().strip('"')))
    return out


def arcs(oid):
    return [int(x) for x in oid.strip(".").split(".")]


def main():
    walk_path, stat_path, get_path, workers, dests = sys.argv[1:6]
    workers, dests = int(workers), int(dests)
    walk = parse_walk(walk_path)
    if not walk:
        fail("empty walk")
        return 1
    # Order and scope.
    for (a, _, _), (b, _, _) in zip(walk, walk[1:]):
        if arcs(a) >= arcs(b):
            fail(f"walk not in increasing OID order: {a} then {b}")
    for oid, _, _ in walk:
        if not oid.startswith(ROOT + "."):
            fail(f"walk left the MIB: {oid}")
    got = {oid[len(ROOT):]: (typ, value) for oid, typ, value in walk}
    # Everything the agent serves: module 3, parameters 12, totals 20, 9 columns per worker,
    # 7 per destination.
    want_count = 3 + 12 + 20 + 9 * workers + 7 * dests
    if len(got) != want_count:
        fail(f"{len(got)} objects walked, want {want_count}: {sorted(got)}")

    def expect(suffix, typ, value):
        if suffix not in got:
            fail(f"{ROOT}{suffix} missing")
        elif got[suffix] != (typ, str(value)):
            fail(f"{ROOT}{suffix}: {got[suffix]}, want {(typ, str(value))}")

    expect(".1.1.1.0", "STRING", "netflowd")
    if got.get(".1.1.4.0", ("", ""))[0] != "Hex-STRING" or len(got[".1.1.4.0"][1].split()) != 11:
        fail(f"loadTime is not an 11-byte DateAndTime: {got.get('.1.1.4.0')}")
    params = dict(line.split("=", 1) for line in open(get_path).read().splitlines() if "=" in line)
    names = ["protocol", "hashsize", "maxflows", "active_timeout", "inactive_timeout", "sndbuf", "destination",
             "aggregation", "sampler", "natevents", "promisc", "snmp_rules"]
    for i, name in enumerate(names, 1):
        string = name in ("destination", "aggregation", "sampler", "snmp_rules")
        expect(f".1.2.{i}.0", "STRING" if string else "INTEGER", params[name])
    stat = {}
    rows = {"worker": [], "sock": []}
    for line in open(stat_path).read().splitlines():
        w = line.split()
        if not w:
            continue
        if w[0].startswith("worker"):
            rows["worker"].append(w)
        elif w[0].startswith("sock"):
            rows["sock"].append(w)
        else:
            stat[w[0]] = w[1]
    counters = {3: "inFlows", 4: "inPackets", 5: "inBytes", 10: "hashBytes", 11: "dropPackets", 12: "dropBytes",
                14: "outFlows", 16: "outBytes", 17: "lostFlows", 18: "lostPackets", 19: "lostBytes"}
    for arc, name in counters.items():
        expect(f".2.1.{arc}.0", "Counter64", stat[name])
    for arc, name in {7: "hashMemory", 8: "hashFlows", 9: "hashPackets"}.items():
        expect(f".2.1.{arc}.0", "Gauge32", stat[name])
    expect(".2.1.6.0", "Gauge32", round(float(stat["hashMetric"]) * 100))
    expect(".2.1.20.0", "Counter32", stat["errTotal"])
    for arc in (1, 2, 13):  # rates: types only, they move
        want = "Counter64" if arc == 1 else "Gauge32"
        if got.get(f".2.1.{arc}.0", ("",))[0] != want:
            fail(f"rate .2.1.{arc}.0: {got.get(f'.2.1.{arc}.0')}, want a {want}")
    if len(rows["worker"]) != workers or len(rows["sock"]) != dests:
        fail(f"stat --snmp has {len(rows['worker'])} workers and {len(rows['sock'])} sockets")
    total_packets = 0
    for w in rows["worker"]:
        i = int(w[0][6:])
        expect(f".2.2.1.1.{i}", "INTEGER", i)
        expect(f".2.2.1.3.{i}", "Counter64", w[1])
        expect(f".2.2.1.4.{i}", "Counter64", w[2])
        expect(f".2.2.1.5.{i}", "Counter64", w[3])
        expect(f".2.2.1.6.{i}", "Gauge32", round(float(w[4]) * 100))
        expect(f".2.2.1.7.{i}", "Counter64", w[5])
        expect(f".2.2.1.8.{i}", "Counter64", w[6])
        expect(f".2.2.1.11.{i}", "Counter32", w[8])  # cpuErrAlloc
        expect(f".2.2.1.12.{i}", "Counter32", w[7])  # cpuErrMaxflows
        total_packets += int(w[2])
    if str(total_packets) != stat["inPackets"] or total_packets < 200:
        fail(f"workers' packets {total_packets} vs inPackets {stat['inPackets']} (at least the 200 sent)")
    for s in rows["sock"]:
        i = int(s[0][4:])
        expect(f".2.3.1.2.{i}", "STRING", s[1])
        expect(f".2.3.1.3.{i}", "INTEGER", s[2])
        for col in range(4, 8):
            expect(f".2.3.1.{col}.{i}", "Counter32", s[col - 1])
        expect(f".2.3.1.8.{i}", "Gauge32", s[7])
    print(f"snmpcheck: {len(got)} objects walked, {len(FAILED)} mismatches; inPackets {stat['inPackets']}")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
