#!/usr/bin/env python3
"""Offline side-by-side benchmark: netflowd --read against softflowd, pmacctd (nfprobe) and
nfpcapd on the same page-cached captures, plus a touch-only / hash-table ceiling, netflowd's
scaling with the number of concurrent flows, a correctness aside and a callgrind profile.

Started by bench/peers/run.sh, which builds the helpers (measure, synth, pcapwalk) and passes
their directory; see docs/performance.md for what is measured and how to read it.
"""
import argparse
import datetime
import json
import mmap
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Every meter gets the same timeouts and flow limit. The inactive timeout is 120 s rather than
# ipt_NETFLOW's 15 s so that the mix really holds >= 500k concurrent flows (nfgen's per-flow
# packet gaps are tens of seconds; see docs/performance.md).
INACTIVE = 120
ACTIVE = 1800
MAXFLOWS = 4000000
SCALE_PPS = 1_000_000  # packets per second of capture time in the scaling captures
PMACCTD_FIXED_SLEEP = 4.0  # pmacctd sleeps 2 s before reading a savefile and 2 s before stopping

MODES = {
    # mix: nfgen --packets/--flows; flood: synth flood packets; scale: concurrent flow counts,
    # each capture = K packets opening the flows + `hits` packets on random ones of them.
    "full": dict(mix=(5_000_000, 500_000), flood=2_000_000, scale=[1_000, 10_000, 100_000, 1_000_000, 4_000_000],
                 hits=4_000_000, rounds=3, scale_rounds=7, corr=(200_000, 20_000), profile=True, extra_netflowd=True, timeout=600),
    "quick": dict(mix=(1_000_000, 100_000), flood=200_000, scale=[1_000, 10_000, 100_000, 1_000_000],
                  hits=1_000_000, rounds=3, scale_rounds=5, corr=(200_000, 20_000), profile=False, extra_netflowd=False, timeout=300),
    "smoke": dict(mix=(20_000, 2_000), flood=5_000, scale=[1_000, 10_000], hits=20_000, rounds=1, scale_rounds=1, corr=None,
                  profile=False, extra_netflowd=False, timeout=60),
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def kv(line: str) -> dict:
    return dict(m.groups() for m in re.finditer(r"(\w+)=(\S+)", line))


_HELD: dict = {}  # capture path -> its mapping, kept for the whole run


def warm(path: Path) -> None:
    """Bring the capture into the page cache and keep it there for the rest of the run: mapped
    (all of its pages, MAP_POPULATE) by this process, which only holds the mapping. Reading it
    once before a stage was not enough on this VM, which evicts file pages that no process maps
    within about half a minute (fincore: a 362 MB capture read once was 40 % evicted 35 s
    later, a mapped one not at all), so later rounds read partly from the disk."""
    key = str(path)
    if key in _HELD or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        _HELD[key] = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                               prot=mmap.PROT_READ)


def residency() -> str:
    """How much of the held captures is in the page cache now (util-linux fincore)."""
    if not _HELD or not shutil.which("fincore"):
        return "not checked (fincore missing)"
    res = size = 0
    for key in _HELD:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES,SIZE", key],
                             capture_output=True, text=True).stdout.split()
        if len(out) == 2:
            res += min(int(out[0]), int(out[1]))  # whole pages: the last one is partly past the end
            size += int(out[1])
    return f"{100 * res / size:.1f} % of {size / 1e6:,.0f} MB in {len(_HELD)} files" if size else "not checked"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def udp_queue_empty(port: int) -> bool:
    """True when the socket bound to 127.0.0.1:port has nothing left to read (or is gone)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[1] == want:
                return int(cols[4].split(":")[1], 16) == 0
    return True


def udp_bound(port: int) -> bool:
    want = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as f:
        return any(line.split()[1] == want for line in f.readlines()[1:])


class Bench:
    def __init__(self, args):
        self.a = args
        self.cfg = dict(MODES[args.mode])
        if args.rounds:
            self.cfg["rounds"] = self.cfg["scale_rounds"] = args.rounds
        if args.profile is not None:
            self.cfg["profile"] = args.profile
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.bin = Path(args.bin)
        self.caps = self.work / "captures"
        self.caps.mkdir(exist_ok=True)
        self.runs_dir = self.work / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        # The export sink: a bound UDP socket that is never read; the kernel drops what does not
        # fit in its buffer, so exporters pay their full send path and no receiver competes for CPU.
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind(("127.0.0.1", 0))
        self.port = self.sink.getsockname()[1]
        self.peers = [p for p in ("softflowd", "pmacctd", "nfpcapd") if shutil.which(p)]
        self.missing = [p for p in ("softflowd", "pmacctd", "nfpcapd") if p not in self.peers]
        self.raw = {}  # stage -> tool -> [measurement dicts]
        self.notes = []
        self.failures = []
        self.first_touch = []  # firsttouch results during the scaling stage

    # ---------------------------------------------------------------- inputs
    def nfgen_capture(self, name: str, packets: int, flows: int, seed: int) -> dict:
        pcap = self.caps / f"{name}-{packets}-{flows}-{seed}.pcap"
        csv = pcap.with_suffix(".csv")
        info = pcap.with_suffix(".info")
        nfgen = Path(self.a.nfgen)
        if not (pcap.exists() and info.exists() and pcap.stat().st_mtime >= nfgen.stat().st_mtime):
            log(f"nfgen: {packets} packets, --flows {flows} -> {pcap.name}")
            out = run([str(nfgen), "--out", str(pcap), "--expected", str(csv), "--packets", str(packets),
                       "--flows", str(flows), "--seed", str(seed)]).stdout
            info.write_text(out)
        lines = info.read_text().splitlines()
        d = {"path": pcap, "csv": csv, "packets": packets, "generator": f"nfgen --packets {packets} --flows {flows} --seed {seed}"}
        d.update({k: int(v) for k, v in kv(lines[0]).items()})
        d.update({k: int(v) for k, v in kv(lines[1]).items()})
        exp_p = exp_b = keys = 0
        with open(csv) as f:
            next(f)
            for line in f:
                c = line.rstrip("\n").split(",")
                exp_p += int(c[7])
                exp_b += int(c[8])
                keys += 1
        d.update(expected_packets=exp_p, expected_bytes=exp_b, expected_keys=keys)
        d["duration_s"] = (d["last_ts_us"] - d["first_ts_us"]) / 1e6
        return d

    def synth_capture(self, kind: str, packets: int, flows: int = 0) -> dict:
        synth = self.bin / "synth"
        if kind == "flood":
            pcap = self.caps / f"flood-{packets}.pcap"
            cmd = [str(synth), "flood", "--out", str(pcap), "--packets", str(packets), "--pps", "100000"]
        else:
            pcap = self.caps / f"flows-{flows}-{packets}-{max(1, packets // SCALE_PPS)}s.pcap"
            cmd = [str(synth), "flows", "--out", str(pcap), "--packets", str(packets), "--flows", str(flows),
                   "--seconds", str(max(1, packets // SCALE_PPS))]
        info = pcap.with_suffix(".info")
        if not (pcap.exists() and info.exists() and pcap.stat().st_mtime >= synth.stat().st_mtime):
            log(f"synth: {' '.join(cmd[1:])}")
            info.write_text(run(cmd).stdout)
        d = {"path": pcap, "packets": packets, "generator": "synth " + " ".join(c for c in cmd[1:] if not c.endswith(".pcap")).replace("--out ", "")}
        d.update({k: int(v) for k, v in kv(info.read_text()).items()})
        return d

    def flow_counts(self, cap: dict) -> None:
        """Distinct keys and peak concurrent flows at INACTIVE (pcapwalk active), cached."""
        cache = cap["path"].with_suffix(f".active{INACTIVE}")
        if not (cache.exists() and cache.stat().st_mtime >= cap["path"].stat().st_mtime):
            cache.write_text(run([str(self.bin / "pcapwalk"), "active", str(cap["path"]), str(INACTIVE)]).stdout)
        c = kv(cache.read_text())
        cap["keys"] = int(c["keys"])
        cap["peak_active"] = int(c["peak_active"])

    # ---------------------------------------------------------------- tools
    def netflowd_cmd(self, cap: dict, port: int, inactive: int = INACTIVE, pace: bool = False, maxflows: int = MAXFLOWS,
                     binary: str = None) -> list:
        cmd = [binary or self.a.netflowd, "--read", str(cap["path"]), f"destination=127.0.0.1:{port}", "protocol=9",
               f"active_timeout={ACTIVE}", f"inactive_timeout={inactive}", f"maxflows={maxflows}"]
        if not pace:
            cmd.append("export_rate=0")
        return cmd

    def softflowd_cmd(self, cap: dict, port: int) -> list:
        t = [x for name in ("tcp", "tcp.rst", "tcp.fin", "udp", "icmp", "general") for x in ("-t", f"{name}={INACTIVE}")]
        return ["softflowd", "-d", "-r", str(cap["path"]), "-n", f"127.0.0.1:{port}", "-v", "9", "-m", str(MAXFLOWS),
                "-p", str(self.work / "softflowd.pid"), "-c", "none", *t, "-t", f"maxlife={ACTIVE}"]

    def pmacctd_cmd(self, cap: dict, port: int) -> list:
        conf = self.work / f"pmacctd-{port}.conf"
        timeouts = ":".join(f"{n}={INACTIVE}" for n in ("tcp", "tcp.rst", "tcp.fin", "udp", "icmp", "general"))
        conf.write_text(
            "daemonize: false\n"
            f"pcap_savefile: {cap['path']}\n"
            f"logfile: {self.work / 'pmacctd.log'}\n"
            "plugins: nfprobe\n"
            f"nfprobe_receiver: 127.0.0.1:{port}\n"
            "nfprobe_version: 9\n"
            f"nfprobe_maxflows: {MAXFLOWS}\n"
            f"nfprobe_timeouts: {timeouts}:maxlife={ACTIVE}\n"
            "aggregate: src_host, dst_host, src_port, dst_port, proto, tos\n"
            # Without buffering every packet is its own core->plugin transfer (5x the CPU).
            "plugin_pipe_size: 20480000\n"
            "plugin_buffer_size: 102400\n")
        return ["pmacctd", "-f", str(conf)]

    def nfpcapd_cmd(self, cap: dict, outdir: Path) -> list:
        return ["nfpcapd", "-r", str(cap["path"]), "-w", str(outdir), "-e", f"{ACTIVE},{INACTIVE}"]

    def tool_cmd(self, tool: str, cap: dict) -> tuple:
        """(command, prepare callable) of one timed run exporting to the sink."""
        prep = None
        if tool == "netflowd":
            cmd = self.netflowd_cmd(cap, self.port)
        elif tool == "netflowd-i15":
            cmd = self.netflowd_cmd(cap, self.port, inactive=15)
        elif tool == "softflowd":
            cmd = self.softflowd_cmd(cap, self.port)
        elif tool == "pmacctd":
            cmd = self.pmacctd_cmd(cap, self.port)
            prep = lambda: (self.work / "pmacctd.log").unlink(missing_ok=True)
        elif tool == "nfpcapd":
            out = self.work / "nfpcapd.out"
            cmd = self.nfpcapd_cmd(cap, out)

            def prep():
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
        elif tool.startswith("ceiling-"):
            cmd = [str(self.bin / "pcapwalk"), tool[len("ceiling-"):], str(cap["path"])]
        else:
            raise ValueError(tool)
        return cmd, prep

    def measure(self, stage: str, tool: str, cmd: list, prep=None, tag: str = "") -> dict:
        if prep:
            prep()
        n = len(self.raw.setdefault(stage, {}).setdefault(tool + tag, []))
        base = self.runs_dir / f"{stage}.{tool}{tag}.{n}"
        out = run([str(self.bin / "measure"), "--stdout", f"{base}.out", "--stderr", f"{base}.err", "--timeout",
                   str(self.cfg["timeout"]), "--", *cmd]).stdout
        m = json.loads(out)
        m["cpu"] = m["user"] + m["sys"]
        m["out"], m["err"] = f"{base}.out", f"{base}.err"
        m["records"] = self.records(tool, m)
        if m["rc"] != 0:
            self.failures.append(f"{stage}/{tool}{tag}: exit code {m['rc']} (see {base}.err)")
            log(f"  FAILED {tool}{tag}: rc={m['rc']}")
        self.raw[stage][tool + tag].append(m)
        return m

    @staticmethod
    def records(tool: str, m: dict):
        try:
            text = Path(m["err"]).read_text(errors="replace") + Path(m["out"]).read_text(errors="replace")
        except OSError:
            return None
        if tool.startswith("netflowd"):
            s = re.search(r"summary .*?\brecords=(\d+)", text)
            return int(s.group(1)) if s else None
        if tool == "softflowd":
            s = re.search(r"Flows exported: \d+ \((\d+) records\)", text)
            return int(s.group(1)) if s else None
        if tool == "nfpcapd":
            v = [int(x) for x in re.findall(r"Ident: '[^']*' Flows: (\d+)", text)]
            return sum(v) if v else None
        return None

    # ---------------------------------------------------------------- stages
    def side_by_side(self, stage: str, cap: dict, tools: list) -> None:
        warm(cap["path"])
        rounds = self.cfg["rounds"]
        for r in range(rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]  # rotate: no tool always first
            for tool in order:
                cmd, prep = self.tool_cmd(tool, cap)
                m = self.measure(stage, tool, cmd, prep)
                log(f"{stage} round {r + 1}/{rounds} {tool:<22} wall {m['wall']:7.2f} s  cpu {m['cpu']:7.2f} s  "
                    f"rss {m['maxrss_kb'] / 1024:7.1f} MB")

    def scaling(self, caps: list) -> None:
        """netflowd (and the hash ceiling) on K flows + hits, and on the K opening packets alone.
        More rounds than the peer stages: these runs take 0.01-1 s, and a run of 0.1 s moved by
        up to 25 % between full runs with 3 rounds (the 1k-flow row, which every ratio divides by)."""
        rounds = self.cfg["scale_rounds"]
        for cap in caps:
            warm(cap["path"])
            warm(cap["open"]["path"])
        for r in range(rounds):
            order = caps[r % len(caps):] + caps[:r % len(caps)]
            for cap in order:
                k = cap["flows"]
                runs = (("netflowd", f"@{k}", self.netflowd_cmd(cap, self.port, maxflows=0)),
                        ("netflowd", f"@{k}-open", self.netflowd_cmd(cap["open"], self.port, maxflows=0)),
                        ("ceiling-hash", f"@{k}", [str(self.bin / "pcapwalk"), "hash", str(cap["path"])]))
                for tool, tag, cmd in runs:
                    m = self.measure("scale", tool, cmd, tag=tag)
                    log(f"scale round {r + 1}/{rounds} {tool:<13} {tag:<14} wall {m['wall']:6.2f} s  "
                        f"cpu {m['cpu']:6.2f} s  rss {m['maxrss_kb'] / 1024:7.1f} MB")
        self.warm_memory_runs(caps, rounds)
        self.first_touch_probe()
        for cap in caps:
            cap["steady_rss_kb"] = self.steady_rss(cap)
            log(f"scale {cap['flows']:>8} flows: RSS before the end-of-capture flush "
                f"{cap['steady_rss_kb'] / 1024:.1f} MB")

    def warm_memory_runs(self, caps: list, rounds: int) -> None:
        """The 1M-flow capture again, each run right after a process that wrote and freed 128 MB in
        huge pages (firsttouch), so that the memory netflowd gets is still backed by the host (a VM
        with free page reporting takes freed memory back after a few seconds, and backing it again
        is the part of a scaling run's system time that moves from minute to minute). Reported
        beside the target, not instead of it; after the rounds above, which it would favour."""
        one = next((c for c in caps if c["flows"] == 1_000_000), None)
        probe = self.bin / "firsttouch"
        if one is None or not probe.exists():
            return
        for r in range(rounds):
            m = self.measure("scale", "netflowd", self.netflowd_cmd(one, self.port, maxflows=0),
                             prep=lambda: run([str(probe), "128"]), tag="@1000000-warm")
            log(f"scale round {r + 1}/{rounds} netflowd      @1000000-warm  wall {m['wall']:6.2f} s  "
                f"cpu {m['cpu']:6.2f} s  sys {m['sys']:5.2f} s")

    def first_touch_probe(self) -> None:
        """What the first write to fresh memory costs right now (firsttouch: 4 KiB pages, huge pages,
        huge pages again within the process), in GB/s: on a VM this moves with the host. Run at the
        start of the benchmark and after the scaling rounds, not among them: the memory it frees is
        cheaper to touch for a while, which would favour the runs right after it."""
        exe = self.bin / "firsttouch"
        if not exe.exists():
            return
        try:
            out = run([str(exe), "96"]).stdout
        except (subprocess.CalledProcessError, OSError):
            return
        m = dict(kv.split("=", 1) for kv in out.split())
        self.first_touch.append({k: float(m[k]) for k in ("small", "huge", "huge_again") if k in m})
        log(f"first touch of 96 MB: 4 KiB pages {m.get('small')} GB/s, huge pages {m.get('huge')} GB/s, "
            f"again {m.get('huge_again')} GB/s")

    def steady_rss(self, cap: dict):
        """netflowd's RSS while it holds all K flows: the capture is fed through a FIFO that stays
        open after the last packet, so netflowd waits for more instead of flushing its cache; the
        RSS is read once its CPU time stops moving. None if that does not work out."""
        fifo = self.work / "steady.fifo"
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        cmd = self.netflowd_cmd(dict(cap, path=fifo), self.port, maxflows=0)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rss = None
        try:
            with open(fifo, "wb") as w:
                with open(cap["path"], "rb") as f:
                    while True:
                        block = f.read(1 << 20)
                        if not block:
                            break
                        w.write(block)
                w.flush()

                def sample():
                    st = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                    kb = next(int(x.split()[1]) for x in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                              if x.startswith("VmRSS:"))
                    return int(st[11]) + int(st[12]), kb  # utime + stime ticks, VmRSS

                prev = sample()
                for _ in range(600):
                    time.sleep(0.1)
                    cur = sample()
                    if cur[0] == prev[0]:
                        rss = cur[1]
                        break
                    prev = cur
            proc.wait(timeout=self.cfg["timeout"])
        except (OSError, StopIteration, subprocess.TimeoutExpired) as e:
            self.notes.append(f"steady RSS at {cap['flows']} flows not measured: {e}")
            proc.kill()
            proc.wait()
        finally:
            fifo.unlink(missing_ok=True)
        return rss

    def collector_totals(self, flowdir: Path) -> dict:
        out = run(["nfdump", "-R", str(flowdir), "-I"]).stdout
        d = {}
        for key in ("Flows", "Packets", "Bytes", "Sequence failures"):
            m = re.search(rf"^{key}: (\d+)", out, re.M)
            d[key.lower().replace(" ", "_")] = int(m.group(1)) if m else 0
        return d

    def via_nfcapd(self, stage: str, tool: str, cmd_for_port, prep=None) -> tuple:
        """Run one exporter towards a fresh nfcapd on 127.0.0.1; (measurement, nfdump totals)."""
        port = free_udp_port()
        flowdir = self.work / f"{stage}-{tool}-flows"
        shutil.rmtree(flowdir, ignore_errors=True)
        flowdir.mkdir()
        nfcapd = subprocess.Popen(["nfcapd", "-w", str(flowdir), "-b", "127.0.0.1", "-p", str(port), "-B", "16777216",
                                   "-t", "3600", "-I", "bench"], stdout=subprocess.DEVNULL,
                                  stderr=open(self.work / f"{stage}-{tool}-nfcapd.log", "w"))
        try:
            deadline = time.time() + 10
            while not udp_bound(port) and time.time() < deadline:
                time.sleep(0.05)
            m = self.measure(stage, tool, cmd_for_port(port), prep)
            deadline = time.time() + 30
            while not udp_queue_empty(port) and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.2)
        finally:
            nfcapd.send_signal(signal.SIGTERM)
            nfcapd.wait(timeout=30)
        return m, self.collector_totals(flowdir)

    def correctness(self, stage: str, cap: dict, through_collector_only: bool = False) -> dict:
        """Per-tool totals of flows, packets, bytes (through nfcapd/nfdump) against nfgen's."""
        res = {}
        warm(cap["path"])
        have_nfcapd = shutil.which("nfcapd") and shutil.which("nfdump")
        if not have_nfcapd:
            self.notes.append("correctness aside skipped: nfcapd/nfdump missing")
            return res
        exporters = {
            "netflowd": lambda port: self.netflowd_cmd(cap, port, pace=True),
            "softflowd": lambda port: self.softflowd_cmd(cap, port),
            "pmacctd": lambda port: self.pmacctd_cmd(cap, port),
        }
        for tool, f in exporters.items():
            if tool != "netflowd" and tool not in self.peers:
                continue
            prep = (lambda: (self.work / "pmacctd.log").unlink(missing_ok=True)) if tool == "pmacctd" else None
            m, tot = self.via_nfcapd(stage, tool, f, prep)
            res[tool] = dict(tot, rc=m["rc"])
            log(f"{stage} {tool}: {tot}")
        if "nfpcapd" in self.peers:
            out = self.work / f"{stage}-nfpcapd-flows"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            m = self.measure(stage, "nfpcapd", self.nfpcapd_cmd(cap, out))
            tot = self.collector_totals(out)
            res["nfpcapd"] = dict(tot, rc=m["rc"])
            log(f"{stage} nfpcapd: {tot}")
        return res

    def profile(self, cap: dict) -> str:
        binary = self.a.profile_netflowd or self.a.netflowd
        if not shutil.which("valgrind"):
            self.notes.append("profile skipped: valgrind not installed")
            return ""
        out = self.work / "callgrind.out"
        log(f"callgrind: netflowd on {cap['path'].name} (takes a minute)")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
               *self.netflowd_cmd(cap, self.port, binary=binary)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=open(self.work / "callgrind.log", "w"))
        return self.format_profile(out, cap, binary)

    @staticmethod
    def callgrind_costs(path: Path) -> tuple:
        """Exclusive and inclusive instruction counts per function from a callgrind output file
        (format of valgrind's docs, "Callgrind Format Specification"). Code inlined from headers is
        counted in the function it was inlined into, which callgrind_annotate splits by file."""
        names = {"fn": {}, "ob": {}}
        fn = ob = None
        callee = None
        excl, incl, obj_of = {}, {}, {}
        total = 0
        pending_call = False

        def name(kind: str, value: str) -> str:
            m = re.match(r"\((\d+)\)(?: (.*))?$", value)
            if not m:
                return value
            if m.group(2) is not None:
                names[kind][m.group(1)] = m.group(2)
            return names[kind].get(m.group(1), value)

        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line:
                    continue
                c = line[0]
                if c.isdigit() or c in "+-*":
                    parts = line.split()
                    ir = int(parts[1]) if len(parts) > 1 else 0
                    if pending_call:
                        if callee != fn:
                            incl[fn] = incl.get(fn, 0) + ir
                        pending_call = False
                    else:
                        excl[fn] = excl.get(fn, 0) + ir
                        incl[fn] = incl.get(fn, 0) + ir
                        total += ir
                    continue
                key, _, value = line.partition("=")
                if key == "fn":
                    fn = name("fn", value)
                    obj_of.setdefault(fn, ob)
                elif key == "cfn":
                    callee = name("fn", value)
                elif key in ("ob", "cob"):
                    o = name("ob", value)
                    if key == "ob":
                        ob = o
                elif key == "calls":
                    pending_call = True

        def short(n: str) -> str:
            if n.startswith("0x") or n == "???":
                return f"{Path(obj_of.get(n) or '?').name} (no symbols)"
            keep = n.find("operator()")
            cut = n.find("(", keep + len("operator()") if keep >= 0 else 0)
            return n[:cut] if cut > 0 else n

        def merged(d: dict) -> list:
            out = {}
            for n, v in d.items():
                out[short(n)] = out.get(short(n), 0) + v
            return sorted(((v, k) for k, v in out.items()), reverse=True)

        return total, merged(excl), merged(incl)

    def format_profile(self, out: Path, cap: dict, binary: str) -> str:
        total, ex, inc = self.callgrind_costs(out)
        total = total or 1
        lines = [f"callgrind (instruction counts, no cache simulation) of `netflowd --read` on {cap['packets']:,} packets "
                 f"of the nfgen mix (`{cap['generator']}`), same parameters as the timed runs; netflowd built Release "
                 f"(-O3) with -g (`{binary}`). Total {total:,} instructions, {total / cap['packets']:,.0f} per packet. "
                 "Code inlined from headers is counted in the function it was inlined into. Browse it with "
                 f"`callgrind_annotate {out}`.", "",
                 "Self cost (exclusive), top 20:", "", "| % of instructions | per packet | function |", "|---:|---:|---|"]
        lines += [f"| {v / total * 100:.1f} | {v / cap['packets']:,.0f} | `{n}` |" for v, n in ex[:20]]
        lines += ["", "Inclusive cost (the function and everything it calls), top 15 below `main`:", "",
                  "| % of instructions | per packet | function |", "|---:|---:|---|"]
        skip = ("main", "(below main)", "_start")
        inc = [(v, n) for v, n in inc if n not in skip and not n.startswith("__libc_start") and "(no symbols)" not in n]
        lines += [f"| {v / total * 100:.1f} | {v / cap['packets']:,.0f} | `{n}` |" for v, n in inc[:15]]
        return "\n".join(lines)

    # ---------------------------------------------------------------- report
    def med(self, stage: str, tool: str) -> dict:
        runs = [m for m in self.raw.get(stage, {}).get(tool, []) if m["rc"] == 0]
        if not runs:
            return None
        d = {k: statistics.median(m[k] for m in runs) for k in ("wall", "cpu", "user", "sys", "maxrss_kb", "tree_rss_kb")}
        recs = [m["records"] for m in runs if m["records"] is not None]
        d["records"] = int(statistics.median(recs)) if recs else None
        d["n"] = len(runs)
        d["wall_all"] = sorted(m["wall"] for m in runs)
        d["cpu_all"] = sorted(m["cpu"] for m in runs)
        return d

    LABELS = {
        "netflowd": "**netflowd**",
        "netflowd-i15": "netflowd, inactive_timeout=15",
        "softflowd": "softflowd 1.1.0",
        "pmacctd": "pmacctd 1.7.7 (nfprobe)",
        "nfpcapd": "nfpcapd 1.7.1",
        "ceiling-touch": "ceiling: touch only, read()",
        "ceiling-touch-mmap": "ceiling: touch only, mmap",
        "ceiling-touch-libpcap": "ceiling: touch only, libpcap",
        "ceiling-hash": "ceiling: touch + hash table",
    }

    def stage_table(self, stage: str, cap: dict, tools: list) -> list:
        nf = self.med(stage, "netflowd")
        pk = cap["packets"]
        rows = ["| tool | runs | wall s (median) | CPU s (user+sys) | peak RSS MB | Mpps (wall) | Mpps per CPU s | "
                "netflowd ÷ tool, per CPU s | netflowd ÷ tool, wall | records exported |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for tool in tools:
            d = self.med(stage, tool)
            label = self.LABELS.get(tool, tool)
            if d is None:
                rows.append(f"| {label} | 0 | failed | | | | | | | |")
                continue
            wall = d["wall"] - (PMACCTD_FIXED_SLEEP if tool == "pmacctd" else 0)
            mpps_w = pk / max(wall, 1e-9) / 1e6
            mpps_c = pk / max(d["cpu"], 1e-9) / 1e6
            rss = d["maxrss_kb"] / 1024
            rss_s = f"{rss:,.0f}" + (f" (tree {d['tree_rss_kb'] / 1024:,.0f})" if tool == "pmacctd" else "")
            if tool.startswith("netflowd") or nf is None:
                r_c = r_w = "—"
            elif tool.startswith("ceiling"):  # netflowd's fraction of the ceiling
                r_c = f"{d['cpu'] / nf['cpu'] * 100:.1f} %"
                r_w = f"{d['wall'] / nf['wall'] * 100:.1f} %"
            else:
                r_c = f"{d['cpu'] / nf['cpu']:.2f}×"
                r_w = f"{wall / nf['wall']:.2f}×"
            rec = f"{d['records']:,}" if d["records"] is not None else "—"
            wall_s = f"{d['wall']:.2f}" + ("¹" if tool == "pmacctd" else "")
            rows.append(f"| {label} | {d['n']} | {wall_s} | {d['cpu']:.2f} | {rss_s} | {mpps_w:.2f} | {mpps_c:.2f} | "
                        f"{r_c} | {r_w} | {rec} |")
        return rows

    def machine(self) -> list:
        cpu = "?"
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        mem = 0
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) / 1024 / 1024
        def ver(cmd, pat):
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
                m = re.search(pat, p.stdout + p.stderr)
                return m.group(1) if m else "?"
            except (OSError, subprocess.TimeoutExpired):
                return "missing"
        try:
            commit = run(["git", "-C", str(Path(__file__).resolve().parent), "describe", "--always", "--dirty"]).stdout.strip()
        except (subprocess.CalledProcessError, OSError):
            commit = "?"
        gxx = ver(["g++", "--version"], r"(\d+\.\d+\.\d+)")
        v_nf = ver([self.a.netflowd, "--version"], r"netflowd (\S+)")
        v_sf = ver(["softflowd", "-h"], r"version (\d[\d.]*\d)")
        v_pm = ver(["pmacctd", "-V"], r"pmacctd (\S+)")
        v_np = ver(["nfpcapd", "-V"], r"Version: (\S+)")
        return [
            f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, mode `{self.a.mode}`, {self.cfg['rounds']} "
            f"alternating round(s) per tool ({self.cfg['scale_rounds']} in the scaling runs), medians; source tree "
            f"`{commit}`",
            f"- machine: {os.cpu_count()} vCPU {cpu}, {mem:.0f} GiB RAM, Linux {platform.release()}, shared with other "
            f"jobs (load average at start {self.load0}, at end {os.getloadavg()[0]:.2f})",
            f"- netflowd `{self.a.netflowd}` ({v_nf}, Release -O3), g++ {gxx}; softflowd {v_sf}, pmacctd {v_pm}, "
            f"nfpcapd {v_np}",
        ]

    def report(self, caps: dict, corr: dict, prof: str, elapsed: float) -> str:
        L = ["<!-- results:begin (generated by bench/peers/run.sh; edits here are overwritten) -->", "",
             f"### Run", ""]
        L += self.machine()
        L += [f"- whole run: {elapsed / 60:.1f} min",
              f"- captures, mapped by the benchmark for the whole run so that they stay in the page cache: "
              f"{residency()} resident at its end", ""]
        if self.missing:
            L += [f"Missing peers (not installed, skipped): {', '.join(self.missing)}.", ""]
        cfg = (f"All meters: NetFlow v9 to a bound, never-read UDP socket on 127.0.0.1 (the kernel discards), "
               f"inactive timeout {INACTIVE} s, active timeout {ACTIVE} s, at most {MAXFLOWS:,} flows; netflowd "
               f"`export_rate=0`; nfpcapd writes nfcapd files to a local directory.")
        L += [cfg, ""]
        mix_tools = self.mix_tools
        for stage, title in (("mix", "Realistic mix"), ("flood", "SYN flood, new source per packet")):
            if stage not in self.raw:
                continue
            cap = caps[stage]
            L += [f"### {title}", "",
                  f"`{cap['generator']}`: {cap['packets']:,} packets, {cap['path'].stat().st_size / 1e6:,.0f} MB, "
                  f"{cap['keys']:,} distinct flow keys, at most {cap['peak_active']:,} flows active within "
                  f"{INACTIVE} s of each other (the concurrent flows a meter holds)" +
                  (f", {cap.get('duration_s', 0):.0f} s of capture time." if "duration_s" in cap else "."), ""]
            L += self.stage_table(stage, cap, mix_tools)
            L += [""]
        L += ["¹ pmacctd sleeps 2 s before reading a savefile and 2 s before stopping its plugin; its Mpps (wall) "
              "leaves these 4 s out, its wall column does not. pmacctd runs as two processes (core + nfprobe plugin): "
              "peak RSS is the larger one, \"tree\" the sampled sum (the 20 MB core→plugin queue is shared memory and "
              "counts in both).", "",
              "Ceiling rows: the ratio columns give netflowd's throughput as a percentage of the ceiling's.", ""]

        # scaling
        self.scale_summary = {}
        if "scale" in self.raw:
            L += self.scale_tables(caps)
        # targets
        L += self.targets(caps)
        # correctness
        if corr:
            cap = caps["corr"]
            L += ["### Correctness aside", "",
                  f"`{cap['generator']}` ({cap['packets']:,} packets; nfgen expects {cap['expected_keys']:,} flow keys, "
                  f"{cap['expected_packets']:,} packets, {cap['expected_bytes']:,} bytes). netflowd (paced as by default), "
                  "softflowd and pmacctd export NetFlow v9 to nfcapd on 127.0.0.1, nfpcapd writes its own files; "
                  "totals by `nfdump -I`. Flow counts differ by design (timeouts, softflowd's and pmacctd's bidirectional "
                  "flow state); packets and bytes must not.", "",
                  "| tool | flow records | packets | bytes | packets vs nfgen | bytes vs nfgen | lost datagrams (sequence failures) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
            for tool, t in corr.items():
                dp = t["packets"] - cap["expected_packets"]
                db = t["bytes"] - cap["expected_bytes"]
                pct = lambda x, tot: f"{x:+,} ({x / tot * 100:+.2f} %)" if x else "exact"
                L.append(f"| {self.LABELS.get(tool, tool)} | {t['flows']:,} | {t['packets']:,} | {t['bytes']:,} | "
                         f"{pct(dp, cap['expected_packets'])} | {pct(db, cap['expected_bytes'])} | "
                         f"{t['sequence_failures']} |")
            L += [""]
        if prof:
            L += ["### Profile", "", prof, ""]
        if self.notes or self.failures:
            L += ["### Notes", ""] + [f"- {n}" for n in self.notes + self.failures] + [""]
        L += ["<!-- results:end -->"]
        return "\n".join(L) + "\n"

    def scale_tables(self, caps: dict) -> list:
        L = []
        scale = caps["scale"]
        k0 = scale[0]["flows"]
        sweep = min(max(min(ACTIVE, INACTIVE) / 4, 1), 10)  # FlowCache::expire's sweep period, s
        L += ["### Scaling with concurrent flows (netflowd)", "",
              f"`synth flows`: K flows opened by the first K packets, then {self.cfg['hits']:,} packets on uniformly "
              f"random ones of them (IPv4 UDP, 60-byte frames, {SCALE_PPS / 1e6:g}M packets per second of capture time, "
              f"so the capture spans a few seconds and with inactive timeout {INACTIVE} s netflowd holds exactly K flows "
              "until the end of the capture flushes them; its expiry sweep visits every flow once per "
              f"{sweep:g} s of capture time (a quarter of the shorter timeout, 1-10 s), here "
              f"K/{SCALE_PPS * sweep / 1e6:g}M visits per packet); netflowd "
              "with `maxflows=0`. *All packets*: the whole capture / CPU time. *Opening K flows*: a run on the K "
              "opening packets alone. *Lookups*: the remaining packets / (CPU time of the whole capture − CPU "
              "time of the opening packets alone), i.e. packets of existing flows only. The hash ceiling is "
              "`pcapwalk hash` on the whole capture.", "",
              "| concurrent flows | packets | CPU s | of which sys s | wall s | Mpps per CPU s, all packets | vs 1k | "
              "µs CPU per flow opened | Mpps per CPU s, lookups | vs 1k | hash ceiling Mpps per CPU s |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for cap in scale:
            k = cap["flows"]
            d = self.med("scale", f"netflowd@{k}")
            o = self.med("scale", f"netflowd@{k}-open")
            h = self.med("scale", f"ceiling-hash@{k}")
            if d is None:
                L.append(f"| {k:,} | {cap['packets']:,} | failed | | | | | | | | |")
                continue
            rate = cap["packets"] / d["cpu"]
            hit_rate = (cap["packets"] - k) / (d["cpu"] - o["cpu"]) if o and d["cpu"] > o["cpu"] else None
            self.scale_summary[k] = dict(rate=rate, hit_rate=hit_rate, open_us=o["cpu"] / k * 1e6 if o else None,
                                         peak_kb=d["maxrss_kb"], steady_kb=cap.get("steady_rss_kb"),
                                         user_rate=cap["packets"] / d["user"] if d["user"] > 0 else None)
        b0 = self.scale_summary.get(k0, {})
        for cap in scale:
            k = cap["flows"]
            s_ = self.scale_summary.get(k)
            if s_ is None:
                continue
            d = self.med("scale", f"netflowd@{k}")
            h = self.med("scale", f"ceiling-hash@{k}")
            rel = f"{s_['rate'] / b0['rate'] * 100:.0f} %" if b0.get("rate") else "—"
            hit = f"{s_['hit_rate'] / 1e6:.2f}" if s_["hit_rate"] else "—"
            hrel = (f"{s_['hit_rate'] / b0['hit_rate'] * 100:.0f} %" if s_["hit_rate"] and b0.get("hit_rate") else "—")
            op = f"{s_['open_us']:.2f}" if s_["open_us"] is not None and k >= 100_000 else "(too small)"
            hr = f"{cap['packets'] / h['cpu'] / 1e6:.2f}" if h else "—"
            L.append(f"| {k:,} | {cap['packets']:,} | {d['cpu']:.2f} | {d['sys']:.2f} | {d['wall']:.2f} | "
                     f"{s_['rate'] / 1e6:.2f} | {rel} | {op} | {hit} | {hrel} | {hr} |")
        if self.first_touch:
            def span(key):
                v = [t[key] for t in self.first_touch if key in t]
                return f"{min(v):.2f}-{max(v):.2f}" if len(v) > 1 else (f"{v[0]:.2f}" if v else "?")
            L += ["", f"*Of which sys*: the kernel's part (median), mostly reading the capture and, with many flows, "
                  f"handing over and zeroing the memory the flows take. What that costs on this machine "
                  f"(`firsttouch 96`, at the start of the benchmark and after the scaling rounds), in GB/s "
                  f"of memory written for the first time: 4 KiB pages {span('small')}, huge pages {span('huge')} "
                  f"(the same size again within one process: {span('huge_again')}). The total CPU time is "
                  f"exact, its split is not: the kernel divides it between user and system time by what it "
                  f"finds at its timer ticks (every 4 ms with Debian's CONFIG_HZ=250, unless the kernel does "
                  f"precise accounting), so in a 0.1-s run the split is good to about a tick."]
        L += ["", "Memory: *with K flows* is netflowd's RSS while it holds the K flows (the capture is fed through a FIFO "
              "that stays open, so netflowd waits for more packets instead of flushing; read once its CPU time stops "
              "moving); *peak* is the whole run's ru_maxrss, which includes the end-of-capture flush of all K flows "
              "into the export queue. Bytes per flow = RSS growth over the 1k-flow run ÷ (K − 1k).", "",
              "| concurrent flows | RSS with K flows MB | bytes per flow | peak RSS MB (with flush) | bytes per flow at peak |",
              "|---:|---:|---:|---:|---:|"]
        for cap in scale:
            k = cap["flows"]
            s_ = self.scale_summary.get(k)
            if s_ is None:
                continue
            st, pk = s_["steady_kb"], s_["peak_kb"]
            per = lambda v, v0: "—" if k == k0 or v is None or v0 is None else f"{(v - v0) * 1024 / (k - k0):,.0f} B"
            s_["per_flow"] = None if k == k0 or st is None or b0.get("steady_kb") is None else (st - b0["steady_kb"]) * 1024 / (k - k0)
            s_["per_flow_peak"] = None if k == k0 else (pk - b0["peak_kb"]) * 1024 / (k - k0)
            L.append(f"| {k:,} | {'—' if st is None else f'{st / 1024:,.1f}'} | {per(st, b0.get('steady_kb'))} | "
                     f"{pk / 1024:,.1f} | {per(pk, b0.get('peak_kb'))} |")
        L += [""]

        return L

    def targets(self, caps: dict) -> list:
        L = ["### Against the targets of issue \"Performance\"", "",
             "| target | measured | verdict |", "|---|---|---|"]
        nf = self.med("mix", "netflowd")
        if nf:
            peers = {p: self.med("mix", p) for p in self.peers}
            peers = {p: d for p, d in peers.items() if d}
            if peers:
                fastest = min(peers, key=lambda p: peers[p]["cpu"])
                ratio = peers[fastest]["cpu"] / nf["cpu"]
                verdict = ("met" if ratio >= 10 else "missed") + f": {ratio:.1f}× vs the required 10× " + (
                    f"({ratio / 10:.1f}× the target)" if ratio >= 10 else f"(netflowd needs {10 / ratio:.1f}× less CPU per packet)")
                L.append(f"| offline netflowd ≥ 10× the fastest peer per core, on the mix | netflowd "
                         f"{caps['mix']['packets'] / nf['cpu'] / 1e6:.2f} Mpps per CPU s, fastest peer {fastest} "
                         f"{caps['mix']['packets'] / peers[fastest]['cpu'] / 1e6:.2f} | {verdict} |")
            # The issue defines the ceiling as a reader that touches every packet header of the
            # mmapped capture; the read() walk is faster here and is reported as a stricter bar.
            for ceiling, label in (("ceiling-touch-mmap", "the touch-only ceiling (mmapped capture, as the issue defines it)"),
                                   ("ceiling-touch", "(stricter: the same walk with 256 KiB read()s)")):
                t = self.med("mix", ceiling)
                if not t:
                    continue
                frac = t["cpu"] / nf["cpu"]
                verdict = ("met" if frac >= 0.25 else "missed") + f": {frac * 100:.1f} % vs 25 % " + (
                    "" if frac >= 0.25 else f"(netflowd needs {0.25 / frac:.1f}× less CPU per packet)")
                L.append(f"| netflowd ≥ 25 % of {label}, mix, per CPU s | ceiling "
                         f"{caps['mix']['packets'] / t['cpu'] / 1e6:.1f} Mpps per CPU s, netflowd "
                         f"{caps['mix']['packets'] / nf['cpu'] / 1e6:.2f} (wall: {t['wall'] / nf['wall'] * 100:.1f} %) | {verdict} |")
        s = self.scale_summary
        k0 = self.cfg["scale"][0]
        if 1_000_000 in s and k0 in s:
            one, base = s[1_000_000], s[k0]
            rel = one["rate"] / base["rate"]
            hit = (f"; lookups alone {one['hit_rate'] / base['hit_rate'] * 100:.0f} % "
                   f"({one['hit_rate'] / 1e6:.2f} vs {base['hit_rate'] / 1e6:.2f})" if one["hit_rate"] and base["hit_rate"] else "")
            verdict = ("met" if rel >= 0.5 else "missed") + f": {rel * 100:.1f} % vs 50 %" + (
                "" if rel >= 0.5 else f" (needs {0.5 / rel:.3f}× the 1M-flow throughput)")
            user = (f"; user CPU alone {one['user_rate'] / base['user_rate'] * 100:.0f} %"
                    if one.get("user_rate") and base.get("user_rate") else "")
            d1, d0 = self.med("scale", "netflowd@1000000"), self.med("scale", f"netflowd@{k0}")
            if d1 and d0:
                user += (f"; CPU s per round {d1['cpu_all'][0]:.2f}-{d1['cpu_all'][-1]:.2f} at 1M, "
                         f"{d0['cpu_all'][0]:.2f}-{d0['cpu_all'][-1]:.2f} at 1k")
            warm = self.med("scale", "netflowd@1000000-warm")
            if warm and d1:
                user += (f"; with memory warm (each run right after a process wrote and freed 128 MB) "
                         f"{one['rate'] * d1['cpu'] / warm['cpu'] / base['rate'] * 100:.0f} % "
                         f"({warm['cpu']:.2f} CPU s, {warm['sys']:.2f} of it sys, against {d1['cpu']:.2f} and "
                         f"{d1['sys']:.2f}; rounds {warm['cpu_all'][0]:.2f}-{warm['cpu_all'][-1]:.2f})")
            L.append(f"| throughput at 1M flows ≥ 50 % of 1k flows (all packets, per CPU s) | {one['rate'] / 1e6:.2f} vs "
                     f"{base['rate'] / 1e6:.2f} Mpps{hit}{user} | {verdict} |")
            pf = one.get("per_flow")
            if pf is not None:
                verdict = ("met" if pf <= 128 else "missed") + f": {pf:.0f} B vs 128 B" + (
                    "" if pf <= 128 else f" ({pf / 128:.1f}× the budget)")
                L.append(f"| ≤ 128 bytes per active flow (RSS growth with 1M flows held, over 1k) | {pf:.0f} B per flow "
                         f"(at the run's peak, with the end-of-capture flush: {one['per_flow_peak']:.0f} B) | {verdict} |")
            if 4_000_000 in s:
                four = s[4_000_000]
                pf4 = f"{four['per_flow']:.0f} B per flow, " if four.get("per_flow") is not None else ""
                L.append(f"| (the same at 4M flows) | {pf4}{four['rate'] / base['rate'] * 100:.0f} % of the 1k-flow "
                         f"throughput | — |")
        L += [""]
        return L

    # ---------------------------------------------------------------- main
    def main(self) -> int:
        t0 = time.time()
        self.load0 = f"{os.getloadavg()[0]:.2f}"
        self.first_touch_probe()
        cfg = self.cfg
        caps = {}
        caps["mix"] = self.nfgen_capture("mix", *cfg["mix"], seed=1)
        caps["flood"] = self.synth_capture("flood", cfg["flood"])
        caps["scale"] = []
        for k in cfg["scale"]:
            cap = self.synth_capture("flows", k + cfg["hits"], k)
            cap["open"] = self.synth_capture("flows", k, k)
            caps["scale"].append(cap)
        if cfg["corr"]:
            caps["corr"] = self.nfgen_capture("corr", *cfg["corr"], seed=2)
        for c in (caps["mix"], caps["flood"]):
            self.flow_counts(c)

        self.mix_tools = (["netflowd"] + (["netflowd-i15"] if cfg["extra_netflowd"] else []) + self.peers +
                          ["ceiling-touch", "ceiling-touch-mmap", "ceiling-touch-libpcap", "ceiling-hash"])
        corr = {}
        only = set(self.a.only.split(",")) if self.a.only else {"mix", "flood", "scale", "corr", "profile"}
        if self.a.mode == "smoke":
            # one run of everything; the mix goes through nfcapd so the correctness code runs too
            caps["corr"] = caps["mix"]
            corr = self.correctness("mix", caps["mix"])
            self.side_by_side("mix", caps["mix"], [t for t in self.mix_tools if t not in corr])
        elif "mix" in only:
            self.side_by_side("mix", caps["mix"], self.mix_tools)
        if "flood" in only:
            self.side_by_side("flood", caps["flood"], self.mix_tools)
        if "scale" in only:
            self.scaling(caps["scale"])
        if cfg["corr"] and "corr" in only:
            corr = self.correctness("corr", caps["corr"])
        prof = self.profile(caps["corr"]) if cfg["profile"] and "profile" in only and cfg["corr"] else ""

        text = self.report(caps, corr, prof, time.time() - t0)
        (self.work / f"runs-{self.a.mode}.json").write_text(json.dumps(self.raw, indent=1, default=str))
        results = Path(self.a.results) if self.a.results else self.work / f"results-{self.a.mode}.md"
        results.write_text(text)
        log(f"results: {results}")
        if self.a.doc and self.a.only:
            log(f"--only: {self.a.doc} left as it is (it shows complete runs only)")
        elif self.a.doc:
            doc = Path(self.a.doc)
            old = doc.read_text() if doc.exists() else ""
            b = old.find("<!-- results:begin")
            e = old.find("<!-- results:end -->")
            if b >= 0 and e > b:
                new = old[:b] + text + old[e + len("<!-- results:end -->\n"):]
            else:
                new = old + ("\n" if old else "") + "## Results\n\n" + text
            doc.write_text(new)
            log(f"updated {doc}")
        if self.a.mode == "smoke":
            print(text)
        if self.failures:
            log("failures:\n  " + "\n  ".join(self.failures))
            return 1
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", choices=MODES, default="full")
    ap.add_argument("--netflowd", required=True)
    ap.add_argument("--profile-netflowd", help="netflowd built with -g for callgrind (default: --netflowd)")
    ap.add_argument("--nfgen", required=True)
    ap.add_argument("--bin", required=True, help="directory with measure, synth, pcapwalk")
    ap.add_argument("--work", required=True)
    ap.add_argument("--results", help="markdown output (default WORK/results-MODE.md)")
    ap.add_argument("--doc", help="replace the results block of this markdown file (docs/performance.md)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--only", help="comma-separated stages: mix,flood,scale,corr,profile (default all)")
    ap.add_argument("--profile", dest="profile", action="store_true", default=None)
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    return Bench(ap.parse_args()).main()


if __name__ == "__main__":
    sys.exit(main())
