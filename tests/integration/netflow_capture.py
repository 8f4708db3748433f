"""Decodes captured NetFlow v5 / v9 / IPFIX export datagrams with tshark.

Shared by compare_flows.py (full runs) and late_collector.py. tshark's cflow
dissector does the decoding; this module only re-assembles what it prints
with `-T fields -E occurrence=a` (every occurrence of a field in a frame, in
dissection order) into messages, sets and flow records:

- sets are walked in order; each template set must hold exactly one template
  (netflowd's contract: "every template travels alone in its own template
  set"), so the n-th template set of a frame owns the n-th template id, field
  count and so on;
- record lengths come from the templates as tshark dissected them, so the
  number of records in a data set is derived, not assumed;
- a flow record's fields are taken from tshark's per-field lists in order,
  reading exactly the elements its template (as tshark dissected it) has;
  every list must be consumed exactly, which checks the reassembly.

Nothing here compares against expectations; callers do.
"""
import ipaddress
import subprocess

EXPERT_ERROR = 0x00800000  # tshark's PI_ERROR; _ws.expert.severity prints the number

V9_TEMPLATE_SET, V9_OPTIONS_TEMPLATE_SET = 0, 1
IPFIX_TEMPLATE_SET, IPFIX_OPTIONS_TEMPLATE_SET = 2, 3
V9_HEADER, IPFIX_HEADER = 20, 16

ICMP, ICMPV6, ESP, AH = 1, 58, 50, 51

# Information elements the flow record decoding reads (their tshark lists).
IP_VERSION, PROTOCOL, TOS, PACKETS, OCTETS = 60, 4, 5, 2, 1
SRC_V4, DST_V4, SRC_V6, DST_V6 = 8, 12, 27, 28
SRC_PORT, DST_PORT, ICMP_V4, ICMP_V6, SPI = 7, 11, 32, 139, 295
REQUIRED = {IP_VERSION, PROTOCOL, TOS, PACKETS, OCTETS}


def run(cmd, env=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[:500]}")
    return proc.stdout


def tshark_fields(capture, port, fields, display_filter=None):
    """One row per frame sent to `port` (the capture may hold probe datagrams too),
    each a list of strings; a field with several occurrences is comma-joined."""
    only_export = f"udp.dstport == {port}"
    cmd = ["tshark", "-n", "-r", capture, "-d", f"udp.port=={port},cflow", "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,",
           "-Y", f"({only_export}) && ({display_filter})" if display_filter else only_export]
    for f in fields:
        cmd += ["-e", f]
    return [line.split("\t") for line in run(cmd).splitlines()]


_IPV6 = {}


def address(text):
    """The canonical text of an address (tools differ in IPv6 notation). IPv4
    dotted quads are taken as they are: all tools print them the same way."""
    if ":" not in text:
        return text
    canonical = _IPV6.get(text)
    if canonical is None:
        canonical = _IPV6[text] = str(ipaddress.ip_address(text))
    return canonical


class Message:
    """One export datagram as tshark decoded it."""

    def __init__(self, frame):
        self.frame = frame
        self.time_epoch = 0.0        # capture time (wall clock)
        self.udp_payload = 0
        self.version = None
        self.count = None            # v9 header count
        self.length = None           # IPFIX header length
        self.sequence = None
        self.export_time = None      # seconds: v9 sysUpTime (exact ms), IPFIX export time (whole s)
        self.sets = []               # (set id, set length, template id if a template set else None)
        self.set_bytes = 0
        self.template_records = 0
        self.data_templates = []     # ids of data templates (re)sent in this message
        self.options_templates = []
        self.flow_records = 0
        self.options_records = 0
        self.undecodable = []        # ids of data sets without a known template
        self.tshark_no_template = 0  # data sets tshark flagged "no template found"
        self.malformed = False
        self.error_expert = []       # messages of error-level expert items
        self.problems = []           # layout errors found while walking
        self.flows = []              # (src, dst, sport, dport, proto, tos, packets, octets)
        self.zero_time_records = 0   # v9 flow records with FIRST_SWITCHED 0 (see below)
        # ICMP and ICMPv6 flow records per protocol, and per (protocol,
        # element) how many carried ports (7) and the type/code elements 32 and
        # 139: each collector reads some of these only.
        self.icmp_records = {ICMP: 0, ICMPV6: 0}
        self.icmp_elements = {(p, e): 0 for p in (ICMP, ICMPV6) for e in (SRC_PORT, ICMP_V4, ICMP_V6)}


V9_IPFIX_FIELDS = [
    "frame.number", "frame.time_epoch", "udp.length", "_ws.malformed", "_ws.expert.severity", "_ws.expert.message",
    "cflow.version", "cflow.count", "cflow.len", "cflow.sequence", "cflow.sysuptime", "cflow.exporttime",
    "cflow.flowset_id", "cflow.flowset_length", "cflow.template_id", "cflow.template_field_count",
    "cflow.template_ipfix_total_field_count", "cflow.option_scope_length", "cflow.option_length",
    "cflow.template_field_length", "cflow.template_field_type", "cflow.template_ipfix_field_type",
    "cflow.scope_field_type", "cflow.no_template_found",
    "cflow.ip_version", "cflow.protocol", "cflow.tos", "cflow.packets", "cflow.octets",
    "cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6", "cflow.srcport", "cflow.dstport",
    "cflow.icmp_type_code_ipv4", "cflow.icmp_ipv6_type", "cflow.icmp_ipv6_code", "cflow.ipsec_spi",
    "cflow.timestart",
]


class _Lists:
    """A frame's per-field occurrence lists, consumed front to back."""

    def __init__(self, row):
        self.values = {name: (text.split(",") if text else []) for name, text in zip(V9_IPFIX_FIELDS, row)}
        for name in V9_IPFIX_FIELDS[len(row):]:
            self.values[name] = []
        self.iters = {name: iter(values) for name, values in self.values.items()}

    def all(self, name):
        return self.values[name]

    def next(self, name):
        try:
            return next(self.iters[name])
        except StopIteration:
            raise IndexError(f"ran out of {name} (had {len(self.values[name])})") from None

    def leftovers(self, names):
        """Values not consumed, per field (consumes them)."""
        rest = {n: sum(1 for _ in self.iters[n]) for n in names}
        return {n: k for n, k in rest.items() if k}


RECORD_LISTS = ["cflow.ip_version", "cflow.protocol", "cflow.tos", "cflow.packets", "cflow.octets",
                "cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6", "cflow.srcport",
                "cflow.dstport", "cflow.icmp_type_code_ipv4", "cflow.icmp_ipv6_type", "cflow.icmp_ipv6_code",
                "cflow.ipsec_spi"]
TEMPLATE_LISTS = ["cflow.template_id", "cflow.template_field_count", "cflow.template_ipfix_total_field_count",
                  "cflow.option_scope_length", "cflow.option_length", "cflow.template_field_length",
                  "cflow.template_field_type", "cflow.template_ipfix_field_type", "cflow.scope_field_type"]



def _padded(n):
    return (n + 3) & ~3


def _flow_record(m, lists, elements):
    """The next flow record from the field lists, reading the elements its
    template has. Key "ports" as in nfgen's CSV: ICMP type/code from 32/139
    (else from 11), ESP/AH the SPI halves (295)."""
    it = lists.iters
    try:
        next(it["cflow.ip_version"])
        if SRC_V4 in elements:
            src, dst = next(it["cflow.srcaddr"]), next(it["cflow.dstaddr"])
        else:
            src, dst = address(next(it["cflow.srcaddrv6"])), address(next(it["cflow.dstaddrv6"]))
        proto = int(next(it["cflow.protocol"]))
        tos = int(next(it["cflow.tos"]), 0)
        packets, octets = int(next(it["cflow.packets"])), int(next(it["cflow.octets"]))
        sport = dport = 0
        if SRC_PORT in elements:
            sport, dport = int(next(it["cflow.srcport"])), int(next(it["cflow.dstport"]))
        typecode = None
        if ICMP_V4 in elements:
            typecode = int(next(it["cflow.icmp_type_code_ipv4"]), 0)
        if ICMP_V6 in elements:  # shown as two fields, type and code
            icmp_type, icmp_code = next(it["cflow.icmp_ipv6_type"]), next(it["cflow.icmp_ipv6_code"])
            typecode = int(icmp_type, 0) * 256 + int(icmp_code, 0)
        if typecode is not None:
            if SRC_PORT in elements and (sport, dport) != (0, typecode):
                m.problems.append(f"ICMP ports {sport}/{dport} disagree with the type/code element {typecode}")
            sport, dport = 0, typecode
        if SPI in elements:
            spi = int(next(it["cflow.ipsec_spi"]), 0)
            sport, dport = spi >> 16, spi & 0xFFFF
    except StopIteration:
        raise IndexError("ran out of a flow record field (tshark's lists do not match the templates)") from None
    if proto in (ICMP, ICMPV6):
        m.icmp_records[proto] += 1
        for e in (SRC_PORT, ICMP_V4, ICMP_V6):
            m.icmp_elements[proto, e] += e in elements
    return (src, dst, sport, dport, proto, tos, packets, octets)


def v9_ipfix_rows(capture, port):
    """tshark's output for decode_v9_ipfix (separate, so callers can run it early)."""
    return tshark_fields(capture, port, V9_IPFIX_FIELDS)


def decode_v9_ipfix(capture, port, templates=None, rows=None):
    """Messages of a v9/IPFIX capture, in order. `templates` (id -> (kind,
    record length)) is the template state a collector starts with: {} for one
    that starts with the capture. `rows`: v9_ipfix_rows() if already run."""
    templates = {} if templates is None else templates
    messages = []
    for row in rows if rows is not None else v9_ipfix_rows(capture, port):
        lists = _Lists(row)
        first = lambda name: lists.all(name)[0] if lists.all(name) else None  # noqa: E731
        m = Message(int(row[0]))
        m.time_epoch = float(row[1])
        m.udp_payload = int(first("udp.length") or 8) - 8
        m.malformed = len(row) > 3 and row[3] != ""  # "-e _ws.malformed" prints text only when present
        severities = [int(s) for s in lists.all("_ws.expert.severity") if s]
        if any(s >= EXPERT_ERROR for s in severities):
            m.error_expert = [row[5][:200]]
        version = first("cflow.version")
        m.version = int(version) if version else None
        messages.append(m)
        if m.version not in (9, 10):
            m.problems.append(f"version {version}")
            continue
        v9 = m.version == 9
        m.sequence = int(first("cflow.sequence"))
        if v9:
            m.count = int(first("cflow.count"))
            m.export_time = float(first("cflow.sysuptime"))
        else:
            m.length = int(first("cflow.len"))
            m.export_time = float(first("cflow.exporttime"))
        m.tshark_no_template = len(lists.all("cflow.no_template_found"))
        ids, lengths = lists.all("cflow.flowset_id"), lists.all("cflow.flowset_length")
        if len(ids) != len(lengths):
            m.problems.append(f"{len(ids)} set ids but {len(lengths)} set lengths")
            continue
        try:
            _walk_sets(m, lists, zip((int(i) for i in ids), (int(n) for n in lengths)), templates, v9)
            if v9:
                # tshark 4.0 shows a FIRST_SWITCHED of 0 as an absolute time
                # (1970, cflow.abstimestart) instead of a relative StartTime
                # (cflow.timestart), so the records lacking the latter are the
                # ones starting at sysUpTime 0 (LAST_SWITCHED 0 implies that).
                m.zero_time_records = m.flow_records - len(lists.all("cflow.timestart"))
            leftovers = lists.leftovers(RECORD_LISTS + TEMPLATE_LISTS)
            if leftovers:
                m.problems.append(f"field lists not consumed by the contract's layout: {leftovers}")
        except (IndexError, ValueError) as e:
            m.problems.append(f"walk: {e}")
    return messages


def _walk_sets(m, lists, sets, templates, v9):
    template_set = V9_TEMPLATE_SET if v9 else IPFIX_TEMPLATE_SET
    options_set = V9_OPTIONS_TEMPLATE_SET if v9 else IPFIX_OPTIONS_TEMPLATE_SET
    field_type = "cflow.template_field_type" if v9 else "cflow.template_ipfix_field_type"

    def fields(n, types_list=field_type):
        types = [int(lists.next(types_list)) for _ in range(n)]
        return types, sum(int(lists.next("cflow.template_field_length")) for _ in range(n))

    for set_id, set_length in sets:
        m.set_bytes += set_length
        if set_length % 4:
            m.problems.append(f"set {set_id} length {set_length} not a multiple of 4")
        if set_id == template_set:
            tid = int(lists.next("cflow.template_id"))
            n = int(lists.next("cflow.template_field_count"))
            types, record = fields(n)
            if set_length != 4 + 4 + 4 * n:
                m.problems.append(f"template set of {tid}: length {set_length}, one template of {n} fields is {8 + 4 * n}")
            elements = frozenset(types)
            if not REQUIRED <= elements or not ({SRC_V4, DST_V4} <= elements or {SRC_V6, DST_V6} <= elements):
                m.problems.append(f"data template {tid} lacks elements the contract requires: {sorted(types)}")
            templates[tid] = ("data", record, elements)
            m.sets.append((set_id, set_length, tid))
            m.data_templates.append(tid)
            m.template_records += 1
        elif set_id == options_set:
            tid = int(lists.next("cflow.template_id"))
            if v9:
                # Scope fields are listed as scope types; their lengths come first.
                scope_bytes, option_bytes = int(lists.next("cflow.option_scope_length")), int(lists.next("cflow.option_length"))
                scopes, others = scope_bytes // 4, option_bytes // 4
                [lists.next("cflow.scope_field_type") for _ in range(scopes)]
                [lists.next(field_type) for _ in range(others)]
                record = sum(int(lists.next("cflow.template_field_length")) for _ in range(scopes + others))
                size = 4 + 6 + scope_bytes + option_bytes
            else:
                n = int(lists.next("cflow.template_ipfix_total_field_count"))
                _, record = fields(n)
                size = 4 + 6 + 4 * n
            if set_length != _padded(size):
                m.problems.append(f"options template set of {tid}: length {set_length}, one template padded is {_padded(size)}")
            templates[tid] = ("options", record, None)
            m.sets.append((set_id, set_length, tid))
            m.options_templates.append(tid)
            m.template_records += 1
        elif set_id >= 256:
            m.sets.append((set_id, set_length, None))
            if set_id not in templates:
                m.undecodable.append(set_id)
                continue
            kind, record, elements = templates[set_id]
            body = set_length - 4
            records, padding = divmod(body, record) if record else (0, body)
            if records < 1 or padding >= 4:
                m.problems.append(f"data set {set_id}: {body} bytes for {record}-byte records")
            if kind == "options":
                m.options_records += records
            else:
                m.flow_records += records
                for _ in range(records):
                    m.flows.append(_flow_record(m, lists, elements))
        else:
            m.sets.append((set_id, set_length, None))
            m.problems.append(f"reserved set id {set_id}")
