#include "control/parameters.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include "common/control_bytes.hpp"

#include "common/control_bytes.hpp"
#include "common/error.hpp"

namespace netflowd {
namespace {

std::string normalize(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

// Strict decimal integer in [min, max]; the message names the parameter and the range.
template <typename T>
T parse_integer(std::string_view name, std::string_view value, T min, T max) {
  long long v = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, v);
  if (value.empty() || ec == std::errc::invalid_argument || ptr != end) {
    throw ParameterError(std::string(name), "'" + std::string(value) + "' is not an integer");
  }
  if (ec == std::errc::result_out_of_range || v < static_cast<long long>(min) || v > static_cast<long long>(max)) {
    throw ParameterError(std::string(name), "'" + std::string(value) + "' is out of range " + std::to_string(min) +
                                                ".." + std::to_string(max));
  }
  return static_cast<T>(v);
}

constexpr std::uint32_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMaxSeconds = 10LL * 365 * 24 * 3600;

void set_destination(Config& c, std::string_view v) { c.destinations = parse_destinations(v); }

void set_protocol(Config& c, std::string_view v) {
  const int p = parse_integer<int>("protocol", v, 0, 255);
  if (p != 5 && p != 9 && p != 10) {
    throw ParameterError("protocol", "must be 5 (NetFlow v5), 9 (NetFlow v9) or 10 (IPFIX), not " + std::string(v));
  }
  c.protocol = p;
}

bool parse_bool(std::string_view name, std::string_view v) { return parse_integer<int>(name, v, 0, 1) == 1; }
void set_payload_size(Config& c, std::string_view v) {
  c.payload_size = parse_integer<std::uint32_t>("payload_size", v, 512, 65000);
}
void set_macaddress(Config& c, std::string_view v) { c.macaddress = parse_bool("macaddress", v); }
void set_vlan(Config& c, std::string_view v) { c.vlan = parse_bool("vlan", v); }
void set_direction(Config& c, std::string_view v) { c.direction = parse_bool("direction", v); }
void set_physdev(Config& c, std::string_view v) { c.physdev = parse_bool("physdev", v); }
void set_workers(Config& c, std::string_view v) { c.workers = parse_integer<std::uint32_t>("workers", v, 0, 256); }
void set_exportcpu(Config& c, std::string_view v) { c.exportcpu = parse_integer<int>("exportcpu", v, -1, 4095); }
void set_promisc(Config& c, std::string_view v) { c.promisc = parse_bool("promisc", v); }
void set_nflog_split(Config& c, std::string_view v) { c.nflog_split = parse_bool("nflog_split", v); }
void set_natevents(Config& c, std::string_view v) { c.natevents = parse_bool("natevents", v); }
void set_mpls_depth(Config& c, std::string_view v) {
  c.mpls_depth = parse_integer<std::uint32_t>("mpls_depth", v, 0, 3);
}

void set_active_timeout(Config& c, std::string_view v) {
  c.active_timeout = static_cast<std::uint32_t>(parse_integer<std::int64_t>("active_timeout", v, 1, kMaxSeconds));
}
void set_inactive_timeout(Config& c, std::string_view v) {
  c.inactive_timeout = static_cast<std::uint32_t>(parse_integer<std::int64_t>("inactive_timeout", v, 0, kMaxSeconds));
}
void set_maxflows(Config& c, std::string_view v) {
  // Upstream: zero or negative means unlimited.
  const auto n = parse_integer<std::int64_t>("maxflows", v, std::numeric_limits<std::int64_t>::min() / 2,
                                             std::numeric_limits<std::int64_t>::max() / 2);
  c.maxflows = n <= 0 ? 0 : static_cast<std::uint64_t>(n);
}
void set_hashsize(Config& c, std::string_view v) {
  const auto n = parse_integer<std::uint32_t>("hashsize", v, 0, 1u << 30);
  if (n != 0 && n < 256)
    throw ParameterError("hashsize", "must be 0 (automatic) or at least 256, not " + std::string(v));
  c.hashsize = n;
}
void set_engine_id(Config& c, std::string_view v) {
  c.engine_id = parse_integer<std::uint32_t>("engine_id", v, 0, kMaxU32);
}
void set_debug(Config& c, std::string_view v) { c.debug = parse_integer<int>("debug", v, 0, 10); }
void set_refresh_rate(Config& c, std::string_view v) {
  c.refresh_rate = parse_integer<std::uint32_t>("refresh_rate", v, 1, kMaxU32);
}
void set_timeout_rate(Config& c, std::string_view v) {
  c.timeout_rate = parse_integer<std::uint32_t>("timeout_rate", v, 0, 1'000'000);
}
void set_sndbuf(Config& c, std::string_view v) { c.sndbuf = parse_integer<int>("sndbuf", v, 0, 1 << 30); }
void set_aggregation(Config& c, std::string_view v) {
  auto rules = AggregationRules::parse(v);  // throws ParameterError("aggregation", ...)
  c.aggregation = std::string(v);
  c.aggregation_rules = rules.empty() ? nullptr : std::make_shared<const AggregationRules>(std::move(rules));
}
void set_snmp_rules(Config& c, std::string_view v) {
  auto rules = SnmpRules::parse(v);  // throws ParameterError("snmp_rules", ...)
  c.snmp_rules = std::string(v);
  c.snmp_rules_parsed = rules.empty() ? nullptr : std::make_shared<const SnmpRules>(std::move(rules));
}
void set_sampler(Config& c, std::string_view v) { c.sampler = SamplerConfig::parse(v); }
void set_flush(Config& c, std::string_view v) { c.flush = parse_integer<int>("flush", v, 0, 2); }
void set_export_rate(Config& c, std::string_view v) {
  if (v == "auto") {
    c.export_rate.reset();
    return;
  }
  c.export_rate = parse_integer<std::uint32_t>("export_rate", v, 0, 100'000'000);
}

void set_export_gso(Config& c, std::string_view v) { c.export_gso = parse_bool("export_gso", v); }

std::string num(std::uint64_t v) { return std::to_string(v); }

// name, default, help, apply, get, runtime
constexpr ParameterSpec kParameters[] = {
    {"destination", "127.0.0.1:2055",
     "collectors, comma-separated: addr[:port][@bind-addr][%iface], IPv6 as [addr]:port", set_destination,
     [](const Config& c) { return format_destinations(c.destinations); }, true},
    {"protocol", "5", "export protocol: 5 (NetFlow v5), 9 (NetFlow v9) or 10 (IPFIX)", set_protocol,
     [](const Config& c) { return std::to_string(c.protocol); }, true},
    {"active_timeout", "1800",
     "seconds after which a long-lived flow is exported and restarted (flows are split at 4294 s at the latest)",
     set_active_timeout, [](const Config& c) { return num(c.active_timeout); }, true},
    {"inactive_timeout", "15", "seconds without packets after which a flow is exported (0: every scan)",
     set_inactive_timeout, [](const Config& c) { return num(c.inactive_timeout); }, true},
    {"maxflows", "2000000",
     "most flows kept at once; packets of new flows beyond it are dropped and counted (0: no limit)", set_maxflows,
     [](const Config& c) { return num(c.maxflows); }, true},
    {"hashsize", "0",
     "initial flow index slots of each worker (0: automatic, from the memory size); the index grows as flows arrive",
     set_hashsize, [](const Config& c) { return num(c.hashsize); }, true},
    {"engine_id", "0", "v5 engine_id (low 8 bits), v9 source id, IPFIX observation domain id", set_engine_id,
     [](const Config& c) { return num(c.engine_id); }, true},
    {"debug", "0", "log verbosity", set_debug, [](const Config& c) { return std::to_string(c.debug); }, true},
    {"refresh_rate", "20", "v9/IPFIX: re-send templates after this many export packets", set_refresh_rate,
     [](const Config& c) { return num(c.refresh_rate); }, true},
    {"timeout_rate", "30", "v9/IPFIX: re-send templates after this many minutes", set_timeout_rate,
     [](const Config& c) { return num(c.timeout_rate); }, true},
    {"sndbuf", "0", "socket send buffer in bytes per destination (0: system default)", set_sndbuf,
     [](const Config& c) { return std::to_string(c.sndbuf); }, true},
    {"export_rate", "auto", "datagrams per second per destination (0: unpaced; auto: unpaced live, 20000 for --read)",
     set_export_rate, [](const Config& c) { return c.export_rate ? num(*c.export_rate) : std::string("auto"); }, true},
    {"export_gso", "1",
     "unpaced export: 1 hands each run of datagrams to the kernel in one system call (UDP segmentation offload; "
     "each leaves as its own datagram), 0 sends one per system call",
     set_export_gso, [](const Config& c) { return num(c.export_gso); }, true},
    {"payload_size", "1400", "v9/IPFIX: most bytes of a message after its header", set_payload_size,
     [](const Config& c) { return num(c.payload_size); }, true},
    {"macaddress", "0", "v9/IPFIX: 1 exports source/destination MAC and EtherType (MACs become flow keys)",
     set_macaddress, [](const Config& c) { return num(c.macaddress); }, true},
    {"vlan", "0", "v9/IPFIX: 1 exports VLAN ids (v9 vlanId; IPFIX dot1q ids and priorities) and EtherType", set_vlan,
     [](const Config& c) { return num(c.vlan); }, true},
    {"direction", "0", "v9/IPFIX: 1 exports flowDirection", set_direction,
     [](const Config& c) { return num(c.direction); }, true},
    {"physdev", "0",
     "v9/IPFIX: 1 exports ingress/egressPhysicalInterface: the bridge ports of bridged packets (NFLOG with "
     "br_netfilter), else the interfaces",
     set_physdev, [](const Config& c) { return num(c.physdev); }, true},
    {"mpls_depth", "0", "v9/IPFIX: export the top N (0..3) MPLS labels and the top TTL (labels become flow keys)",
     set_mpls_depth, [](const Config& c) { return num(c.mpls_depth); }, true},
    {"workers", "0",
     "live capture: worker threads, each with its own flow-cache shard (0: one per CPU; with --nflog only, one per "
     "NFLOG group, at most one per CPU)",
     set_workers, [](const Config& c) { return num(c.workers); }, false},
    {"exportcpu", "-1", "live capture: pin the export thread to this CPU (-1: no pinning)", set_exportcpu,
     [](const Config& c) { return std::to_string(c.exportcpu); }, false},
    {"promisc", "0", "live capture: 1 puts --interface devices in promiscuous mode (for mirror ports)", set_promisc,
     [](const Config& c) { return num(c.promisc); }, false},
    {"nflog_split", "0",
     "live capture: 1 says the ruleset sends every packet of a flow to the same NFLOG group (e.g. nftables jhash "
     "over addresses and ports): each worker then meters all packets of its own groups, none cross workers",
     set_nflog_split, [](const Config& c) { return num(c.nflog_split); }, false},
    {"flush", "0", "run time: 1 exports every flow now; 2 also zeroes the statistics (reads 0)", set_flush,
     [](const Config&) { return std::string("0"); }, true},
    // ipt_NETFLOW parameters this version does not implement yet: accepted names, clear refusal.
    {"aggregation", "",
     "rules A.B.C.D/M=N (cut matching IPv4 addresses to /N), P1-P2=P and P=Q (replace ports), comma-separated",
     set_aggregation, [](const Config& c) { return c.aggregation; }, true},
    {"sampler", "", "flow sampling deterministic:N, random:N or hash:N (N 2..16383); empty: every flow", set_sampler,
     [](const Config& c) { return c.sampler.to_string(); }, true},
    {"snmp_rules", "", "exported interface numbers from names: prefix:base[,...] maps e.g. ppp11 to base+11",
     set_snmp_rules, [](const Config& c) { return c.snmp_rules; }, true},
    {"natevents", "0", "live capture: 1 exports NAT events (IPv4 connections with SNAT/DNAT) from conntrack",
     set_natevents, [](const Config& c) { return num(c.natevents); }, true},
    {"scan_min", "1", "kernel export-scan delay", nullptr, nullptr, false,
     "not applicable in user space: netflowd sweeps its caches every 100 ms"},
};

}  // namespace

std::span<const ParameterSpec> parameter_table() { return kParameters; }

const ParameterSpec* find_parameter(std::string_view name) {
  const std::string n = normalize(name);
  for (const auto& p : kParameters) {
    if (p.name == n) return &p;
  }
  return nullptr;
}

void apply_parameter(Config& config, std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    throw ParameterError(std::string(assignment), "expected name=value");
  }
  const std::string_view name = assignment.substr(0, eq);
  const ParameterSpec* spec = find_parameter(name);
  if (spec == nullptr) throw ParameterError(std::string(name), "unknown parameter (see --help)");
  if (spec->apply == nullptr) {
    throw ParameterError(std::string(spec->name),
                         spec->refusal.empty() ? "is an ipt_NETFLOW parameter not implemented yet in this version"
                                               : std::string(spec->refusal));
  }
  spec->apply(config, assignment.substr(eq + 1));
}

void apply_config_text(Config& config, std::string_view text, const std::string& file_name) {
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    const char* const line_start = text.data() + pos;
    pos = end + 1;
    ++line_no;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    auto trim = [](std::string_view s) {
      const std::size_t b = s.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) return std::string_view{};
      return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
    };
    line = trim(line);
    if (line.empty()) continue;
    const std::size_t eq = line.find('=');
    const std::string where = file_name + ":" + std::to_string(line_no);
    // A NUL or another control byte (a damaged or binary file) is named, not passed on: it
    // would cut the message short wherever it is printed as a C string.
    if (const auto bad = find_control_byte(line); bad != line.end()) {
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned>(static_cast<unsigned char>(*bad)));
      throw ParameterError(where, std::string("control character ") + byte + " at column " +
                                      std::to_string(&*bad - line_start + 1) + " (not a text file?)");
    }
    if (eq == std::string_view::npos)
      throw ParameterError(where, "expected name=value, got '" + std::string(line) + "'");
    const std::string assignment = std::string(trim(line.substr(0, eq))) + "=" + std::string(trim(line.substr(eq + 1)));
    try {
      apply_parameter(config, assignment);
    } catch (const ParameterError& e) {
      throw ParameterError(where + ": " + e.name(), e.reason());
    }
  }
}

std::string get_parameter(const Config& config, std::string_view name) {
  const ParameterSpec* spec = find_parameter(name);
  if (spec == nullptr) throw ParameterError(std::string(name), "unknown parameter");
  if (spec->get == nullptr) throw ParameterError(std::string(spec->name), "is not implemented yet");
  return spec->get(config);
}

std::string parameters_help() {
  std::string s;
  for (const auto& p : kParameters) {
    std::string line =
        "  " + std::string(p.name) + "=" + std::string(p.default_value.empty() ? "\"\"" : p.default_value);
    if (line.size() < 34) line.resize(34, ' ');
    s += line + " " + std::string(p.help) + "\n";
  }
  return s;
}

}  // namespace netflowd

namespace netflowd {

std::string parameters_markdown() {
  std::string s = "| parameter | default | meaning |\n|---|---|---|\n";
  for (const auto& p : kParameters) {
    s += "| `" + std::string(p.name) + "` | `" + std::string(p.default_value) + "` | " + std::string(p.help) +
         (p.apply == nullptr
              ? " **(refused: " + std::string(p.refusal.empty() ? "not implemented yet" : p.refusal) + ")**"
              : "") +
         " |\n";
  }
  return s;
}

}  // namespace netflowd
