"""Plumbing shared by the field-level tests (tests/fields).

- Scope: every background process started here runs in its own process
  group and is stopped (by that group id) on any exit; temporary directories
  and other resources registered with it are released too. SIGTERM, SIGINT
  and SIGHUP turn into SystemExit so that cleanup runs (ctest timeouts).
- Capture: tshark on an interface (lo), with marker datagrams that prove
  the capture is live before anything is sent and complete before it stops.
- decode(): tshark's cflow dissector, JSON output, turned into messages,
  sets, templates and records; check_messages(): header/set rules of
  docs/export-formats.md that hold for every v9/IPFIX message.
"""

import calendar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

SKIP = 77


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def require_tools(*tools):
    for tool in tools:
        if shutil.which(tool) is None:
            log("SKIP: missing tool: %s" % tool)
            sys.exit(SKIP)


def _raise_exit(signum, _frame):
    raise SystemExit(128 + signum)


def install_signal_handlers():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _raise_exit)


def _exited(pid):
    """Whether the child pid has exited, without reaping it."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class Scope:
    """Owns background processes, sockets, temp dirs and cleanup callbacks."""

    def __init__(self, prefix):
        self.procs = []
        self.sockets = []
        self.callbacks = []  # run last, in reverse order of registration
        self.keep = os.environ.get("NETFLOWD_TEST_KEEP") == "1"
        self.workdir = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def spawn(self, args, **kwargs):
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, args, timeout=120, **kwargs):
        """Runs a command in the foreground but tracked: a signal stops it too."""
        proc = self.spawn(args, **kwargs)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise RuntimeError("timed out after %d s: %s" % (timeout, " ".join(map(str, args))))
        self.procs.remove(proc)
        return rc

    def stop(self, proc, grace=10.0):
        """SIGTERM to the process itself (tshark then stops its dumpcap and closes the file), then
        SIGKILL to whatever is left of its process group. The group is killed only while the
        leader is still unreaped (waitid WNOWAIT), so its id cannot belong to anybody else."""
        if proc.returncode is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while not _exited(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)

    def udp_socket(self):
        """A UDP socket bound to a kernel-chosen port on 127.0.0.1, kept open (and the port
        reserved) until cleanup; a bound receiver also means no ICMP port-unreachable."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", 0))
        self.sockets.append(s)
        return s

    def close(self):
        # exiting anyway: a second signal must not cut the cleanup short
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for proc in reversed(list(self.procs)):
            try:
                self.stop(proc)
            except Exception as e:  # keep cleaning up
                log("cleanup: %s" % e)
        for s in self.sockets:
            s.close()
        self.sockets = []
        for cb in reversed(self.callbacks):
            try:
                cb()
            except Exception as e:
                log("cleanup: %s" % e)
        self.callbacks = []
        if self.workdir:
            if self.keep:
                log("kept %s" % self.workdir)
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def wait_until(timeout, what, predicate, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError("timed out waiting for %s" % what)


class Capture:
    """tshark capturing UDP to the given ports on 127.0.0.1 (interface lo).

    tshark prints "Capturing on" before the capture is really live, and a
    SIGTERM can lose the last packets; so a marker datagram is sent to a
    probe port inside the filter until tshark's packet summaries (-P -l)
    show it: at start (capture live) and before stopping (everything sent
    before it has been captured; lo keeps the order). Markers differ by
    length."""

    def __init__(self, scope, name, ports, iface="lo"):
        self.scope = scope
        self.pcap = os.path.join(scope.workdir, name + ".pcapng")
        self.out = os.path.join(scope.workdir, name + ".tshark.out")
        self.log_path = os.path.join(scope.workdir, name + ".tshark.log")
        self.probe = scope.udp_socket()
        self.probe_port = self.probe.getsockname()[1]
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        scope.sockets.append(self.sender)
        ports = list(ports) + [self.probe_port]
        bpf = "udp and host 127.0.0.1 and (%s)" % " or ".join("port %d" % p for p in ports)
        self.proc = scope.spawn(["tshark", "-n", "-l", "-P", "-i", iface, "-B", "32", "-f", bpf, "-w", self.pcap],
                                stdout=open(self.out, "wb"), stderr=open(self.log_path, "wb"),
                                stdin=subprocess.DEVNULL)
        try:
            wait_until(30, "tshark capture start", self._capturing)
            self._wait_probe("start")
        except Exception:
            sys.stderr.write(self._read(self.log_path))
            raise

    @staticmethod
    def _read(path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def _capturing(self):
        if self.proc.poll() is not None:
            raise RuntimeError("tshark exited with status %s" % self.proc.returncode)
        return "Capturing on" in self._read(self.log_path)

    def _wait_probe(self, text):
        pattern = re.compile(r"[^0-9]%d Len=%d\b" % (self.probe_port, len(text)))
        for _ in range(300):
            self.sender.sendto(text.encode(), ("127.0.0.1", self.probe_port))
            time.sleep(0.05)
            if pattern.search(self._read(self.out)):
                return
        raise RuntimeError("tshark never showed the probe datagram to port %d" % self.probe_port)

    def stop(self):
        self._wait_probe("end-of-run")
        self.scope.stop(self.proc)


# ------------------------------------------------------------------ decoding

_MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"], 1)}
_ABSTIME = re.compile(r"^(\w{3})\s+(\d+), (\d{4}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? UTC$")


def abstime_ms(text):
    """tshark's absolute time ("Nov 14, 2023 22:13:20.290000000 UTC") in Unix ms (exact)."""
    m = _ABSTIME.match(text)
    if not m:
        raise ValueError("unparsable absolute time %r (TZ must be UTC)" % text)
    mon, day, year, hh, mm, ss, frac = m.groups()
    secs = calendar.timegm((int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), 0, 0, 0))
    frac = (frac or "0").ljust(9, "0")
    ns = int(frac)
    if ns % 1_000_000:
        raise ValueError("absolute time %r is not a whole millisecond" % text)
    return secs * 1000 + ns // 1_000_000


def reltime_ms(text):
    """tshark's relative time ("0.250000000") in ms (exact)."""
    v = Decimal(text) * 1000
    if v != v.to_integral_value():
        raise ValueError("relative time %r is not a whole millisecond" % text)
    return int(v)


class Template:
    def __init__(self, tid, options, fields, scope_fields):
        self.id = tid
        self.options = options
        self.fields = fields  # [(type, length)] of the non-scope fields (v9) / all fields (IPFIX)
        self.scope_fields = scope_fields  # v9: [(scope type, length)]; IPFIX: first scope_count of fields

    def types(self):
        return [t for t, _ in self.fields]


class Record:
    def __init__(self, fields, template, message):
        self.fields = fields  # name -> [values], in order of appearance
        self.template = template
        self.message = message

    def get(self, name):
        v = self.fields.get(name)
        if not v:
            return None
        return v[0] if len(v) == 1 else v

    def is_options(self):
        return self.template is not None and self.template.options


class Set:
    def __init__(self, sid, length):
        self.id = sid
        self.length = length
        self.templates = []
        self.records = []


class Message:
    def __init__(self, frame, src_port, dst_port, payload_len):
        self.frame = frame
        self.src_port = src_port
        self.dst_port = dst_port
        self.payload_len = payload_len
        self.header = {}
        self.sets = []

    def h(self, name):
        return self.header.get(name)

    def records(self):
        return [r for s in self.sets for r in s.records]

    def flow_records(self):
        return [r for r in self.records() if not r.is_options()]

    def templates(self):
        return [t for s in self.sets for t in s.templates]


def _pairs(pairs):
    return pairs  # keep duplicate keys and order


def _flatten(pairs, out):
    for k, v in pairs:
        if isinstance(v, list):
            _flatten(v, out)
        else:
            out.setdefault(k, []).append(v)


def _parse_template(key, pairs, version):
    d = dict((k, v) for k, v in pairs if not isinstance(v, list))
    tid = int(d["cflow.template_id"])
    options = key.startswith("Options Template")
    fields, scope_fields = [], []
    for k, v in pairs:
        if not (isinstance(v, list) and k.startswith("Field (")):
            continue
        f = dict(v)
        length = int(f["cflow.template_field_length"])
        if "cflow.scope_field_type" in f:  # v9 options template scope
            scope_fields.append((int(f["cflow.scope_field_type"]), length))
        elif "cflow.template_ipfix_field_type" in f:
            t = (int(f["cflow.template_ipfix_field_type"]), length)
            fields.append(t)
            if "[Scope]" in k:
                scope_fields.append(t)
        else:
            fields.append((int(f["cflow.template_field_type"]), length))
    return Template(tid, options, fields, scope_fields)


def decode(capture, ports, version):
    """Decodes the export datagrams to `ports` in `capture`: {port: [Message]} in capture order.
    Data records are bound to the template last announced on the same port before them."""
    args = ["tshark", "-n", "-r", capture, "-T", "json", "-Y", "cflow"]
    for p in ports:
        args += ["-d", "udp.port==%d,cflow" % p]
    env = dict(os.environ, TZ="UTC")
    res = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
    if res.returncode != 0:
        raise RuntimeError("tshark -r failed: %s" % res.stderr.decode(errors="replace"))
    packets = json.loads(res.stdout.decode() or "[]", object_pairs_hook=_pairs)
    out = {p: [] for p in ports}
    templates = {p: {} for p in ports}
    for pkt in packets:
        layers = dict(dict(dict(pkt)["_source"])["layers"])
        udp = dict(layers["udp"])
        dport = int(udp["udp.dstport"])
        if dport not in out:
            continue
        frame = int(dict(layers["frame"])["frame.number"])
        msg = Message(frame, int(udp["udp.srcport"]), dport, int(udp["udp.length"]) - 8)
        cflow = layers["cflow"]
        for k, v in cflow:
            if not isinstance(v, list):
                msg.header[k] = v
            elif k.endswith("_tree"):
                for k2, v2 in v:
                    if not isinstance(v2, list):
                        msg.header[k2] = v2
            elif k.startswith("FlowSet ") or k.startswith("Set "):
                sd = dict((a, b) for a, b in v if not isinstance(b, list))
                s = Set(int(sd["cflow.flowset_id"]), int(sd["cflow.flowset_length"]))
                for k2, v2 in v:
                    if not isinstance(v2, list):
                        continue
                    if k2.startswith("Template (") or k2.startswith("Options Template ("):
                        t = _parse_template(k2, v2, version)
                        templates[dport][t.id] = t
                        s.templates.append(t)
                    elif k2.startswith("Flow "):
                        fields = {}
                        _flatten(v2, fields)
                        s.records.append(Record(fields, templates[dport].get(s.id), msg))
                msg.sets.append(s)
        out[dport].append(msg)
    return out


def bad_frames(capture, ports):
    """Frames tshark marks malformed or with an expert item of severity error (or worse)."""
    args = ["tshark", "-n", "-r", capture, "-Y", "_ws.malformed or _ws.expert.severity >= error", "-T", "fields",
            "-e", "frame.number", "-e", "udp.dstport", "-e", "_ws.expert.message"]
    for p in ports:
        args += ["-d", "udp.port==%d,cflow" % p]
    res = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if res.returncode != 0:
        raise RuntimeError("tshark -r failed: %s" % res.stderr.decode(errors="replace"))
    return [line for line in res.stdout.decode(errors="replace").splitlines() if line.strip()]


# ------------------------------------------------------------------ checks

V9_SCOPE_SYSTEM = 1
HEADER_LEN = {9: 20, 10: 16}


def check_messages(messages, version, engine_id=0, payload_size=1400, refresh_rate=20):
    """Message-level rules of docs/export-formats.md; returns a list of error strings.
    Template refresh: a template last sent in message a must be sent again before a data set of
    it starts in message i when i - a > refresh_rate + 1, and must not be sent again when
    i - a < refresh_rate + 1 ("more than refresh_rate messages went out since": whether message a
    itself counts is left open). The time-based refresh (timeout_rate minutes) is not modelled:
    captures here span far less."""
    errors = []
    records_before = 0
    first_use = []
    known = set()
    last_sent = {}
    for i, m in enumerate(messages):
        where = "message %d (frame %d)" % (i, m.frame)
        if int(m.h("cflow.version")) != version:
            errors.append("%s: version %s" % (where, m.h("cflow.version")))
            continue
        n_templates = len(m.templates())
        n_records = len(m.records())
        if version == 9:
            if int(m.h("cflow.sequence")) != i:
                errors.append("%s: v9 sequence expected %d (messages sent before), got %s" % (
                    where, i, m.h("cflow.sequence")))
            if int(m.h("cflow.count")) != n_templates + n_records:
                errors.append("%s: v9 count expected %d (templates %d + records %d), got %s" % (
                    where, n_templates + n_records, n_templates, n_records, m.h("cflow.count")))
            if int(m.h("cflow.source_id")) != engine_id:
                errors.append("%s: source id %s" % (where, m.h("cflow.source_id")))
        else:
            if int(m.h("cflow.sequence")) != records_before:
                errors.append("%s: IPFIX sequence expected %d (data records sent before), got %s" % (
                    where, records_before, m.h("cflow.sequence")))
            if int(m.h("cflow.od_id")) != engine_id:
                errors.append("%s: observation domain %s" % (where, m.h("cflow.od_id")))
            if int(m.h("cflow.len")) != m.payload_len:
                errors.append("%s: IPFIX length %s, datagram payload %d" % (where, m.h("cflow.len"), m.payload_len))
        records_before += n_records
        # tshark stops silently at a set that runs past the datagram: the sets must fill it exactly
        if HEADER_LEN[version] + sum(x.length for x in m.sets) != m.payload_len:
            errors.append("%s: header %d + set lengths %s != datagram payload %d" % (
                where, HEADER_LEN[version], [x.length for x in m.sets], m.payload_len))
        if m.payload_len - HEADER_LEN[version] > payload_size:
            errors.append("%s: %d bytes after the header > payload_size %d" % (
                where, m.payload_len - HEADER_LEN[version], payload_size))
        for j, s in enumerate(m.sets):
            if s.length % 4:
                errors.append("%s set %d (id %d): length %d not a multiple of 4" % (where, j, s.id, s.length))
            if s.templates:
                if len(s.templates) != 1:
                    errors.append("%s set %d: %d templates in one set (expected alone)" % (
                        where, j, len(s.templates)))
                t = s.templates[0]
                nxt = m.sets[j + 1] if j + 1 < len(m.sets) else None
                if nxt is None or nxt.id != t.id:
                    errors.append("%s set %d: template %d not immediately followed by its data set" % (
                        where, j, t.id))
                known.add(t.id)
                if t.id not in first_use:
                    first_use.append(t.id)
                elif i - last_sent[t.id] < refresh_rate + 1:
                    errors.append("%s set %d: template %d re-sent after %d messages (refresh_rate %d)" % (
                        where, j, t.id, i - last_sent[t.id], refresh_rate))
                last_sent[t.id] = i
            elif s.id >= 256:
                if s.id not in known:
                    errors.append("%s set %d: data set %d without a template sent before" % (where, j, s.id))
                elif i - last_sent[s.id] > refresh_rate + 1:
                    errors.append("%s set %d: data set %d starts %d messages after its template was sent "
                                  "(refresh_rate %d): template not re-sent" % (
                                      where, j, s.id, i - last_sent[s.id], refresh_rate))
                for r in s.records:
                    if r.template is None:
                        errors.append("%s set %d: record without template" % (where, j))
                t = s.records[0].template if s.records else None
                if t is not None:
                    reclen = sum(n for _, n in t.fields) + (sum(n for _, n in t.scope_fields) if version == 9 else 0)
                    pad = s.length - 4 - len(s.records) * reclen
                    if not 0 <= pad <= 3:
                        errors.append("%s set %d (id %d): %d records of %d bytes in a %d-byte set: padding %d" % (
                            where, j, s.id, len(s.records), reclen, s.length, pad))
    if first_use != list(range(256, 256 + len(first_use))):
        errors.append("template ids in order of first use: %s (expected 256, 257, ...)" % first_use)
    return errors


# Options templates of docs/export-formats.md ("Options templates and records"); the first
# element is the scope (v9: scope type 1 System, length 4).
OPTIONS_TEMPLATES = {
    "system_init": [(149, 4), (160, 8), (300, 32), (152, 8), (153, 8)],
    "sampling": [(149, 4), (34, 4), (35, 1)],
    "interfaces": [(149, 4), (10, 4), (82, 16), (83, 32)],
    "metering_stats": [(149, 4), (41, 8), (42, 8), (40, 8), (163, 8)],
    "metering_reliability": [(149, 4), (164, 8), (165, 8), (152, 8), (153, 8)],
    "exporting_reliability": [(144, 4), (166, 8), (167, 8), (168, 8), (152, 8), (153, 8)],
}


def options_kind(template, version):
    """Which options record a template is (by its full element list), or None."""
    for kind, elements in OPTIONS_TEMPLATES.items():
        if version == 10:
            if template.fields == elements and template.scope_fields == elements[:1]:
                return kind
        else:
            if template.scope_fields == [(V9_SCOPE_SYSTEM, 4)] and template.fields == elements[1:]:
                return kind
    return None


def options_records(messages, version):
    """[(kind, record, message index)] for every options data record; kind None = unknown template."""
    out = []
    for i, m in enumerate(messages):
        for r in m.records():
            if r.is_options():
                out.append((options_kind(r.template, version), r, i))
    return out


def parse_summary(stderr_text):
    lines = [l for l in stderr_text.splitlines() if l.startswith("netflowd: summary ")]
    if not lines:
        raise RuntimeError("no 'netflowd: summary' line on stderr:\n" + stderr_text)
    return {k: int(v) for k, v in (kv.split("=", 1) for kv in lines[-1].split()[2:])}
