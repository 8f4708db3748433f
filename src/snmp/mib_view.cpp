#include "snmp/mib_view.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <sstream>

#include "common/control_bytes.hpp"

namespace netflowd::snmp {
namespace {

struct Parameter {
  std::uint32_t arc;
  const char* name;
  Type type;
};
// .1.2: upstream's sysctl names, netflowd's parameter names (the same with _ for -).
constexpr Parameter kParameters[] = {
    {1, "protocol", Type::integer},       {2, "hashsize", Type::integer},         {3, "maxflows", Type::integer},
    {4, "active_timeout", Type::integer}, {5, "inactive_timeout", Type::integer}, {6, "sndbuf", Type::integer},
    {7, "destination", Type::octets},     {8, "aggregation", Type::octets},       {9, "sampler", Type::octets},
    {10, "natevents", Type::integer},     {11, "promisc", Type::integer},         {12, "snmp_rules", Type::octets},
};

Oid child(const Oid& base, std::initializer_list<std::uint32_t> arcs) {
  Oid o = base;
  o.insert(o.end(), arcs);
  return o;
}

Value integer(std::int64_t v) { return {Type::integer, static_cast<std::uint64_t>(static_cast<std::int32_t>(v)), {}}; }
Value gauge(std::uint64_t v) { return {Type::gauge32, std::min<std::uint64_t>(v, UINT32_MAX), {}}; }
Value counter32(std::uint64_t v) { return {Type::counter32, v & UINT32_MAX, {}}; }
Value counter64(std::uint64_t v) { return {Type::counter64, v, {}}; }
Value octets(std::string s) { return {Type::octets, 0, std::move(s)}; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::uint64_t number(const std::string& s) { return std::strtoull(s.c_str(), nullptr, 10); }
// "x.yy" as x.yy * 100 (FixedDiv100), as upstream's agent reads values with a point.
std::uint64_t hundredths(const std::string& s) {
  return static_cast<std::uint64_t>(std::strtod(s.c_str(), nullptr) * 100 + 0.5);
}

// DateAndTime (RFC 2579), 11 bytes, UTC.
std::string date_and_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const int year = tm.tm_year + 1900;
  std::string s;
  s += static_cast<char>(year >> 8);
  s += static_cast<char>(year & 0xff);
  s += static_cast<char>(tm.tm_mon + 1);
  s += static_cast<char>(tm.tm_mday);
  s += static_cast<char>(tm.tm_hour);
  s += static_cast<char>(tm.tm_min);
  s += static_cast<char>(tm.tm_sec);
  s += '\0';  // deci-seconds
  s += '+';
  s += '\0';
  s += '\0';
  return s;
}

}  // namespace

std::map<Oid, Value> build_view(const ControlAnswers& a) {
  std::map<Oid, Value> view;
  const Oid module = child(kRoot, {1, 1});
  view[child(module, {1, 0})] = octets("netflowd");
  // stat's first line: "<observation domain name, e.g. netflowd 0.1.0>, protocol ...".
  const std::vector<std::string> text = lines_of(a.stat_text);
  if (!text.empty()) {
    const std::vector<std::string> first = words_of(text[0].substr(0, text[0].find(',')));
    if (first.size() >= 2) view[child(module, {2, 0})] = octets(first[1]);
    for (const std::string& line : text) {
      const auto at = line.find(", uptime ");
      if (line.rfind("Flows:", 0) == 0 && at != std::string::npos && a.now_unix != 0) {
        const auto uptime = static_cast<std::int64_t>(number(line.substr(at + 9)));
        view[child(module, {4, 0})] = octets(date_and_time(a.now_unix - uptime));
      }
    }
  }
  // Parameters: name=value lines.
  const Oid sysctl = child(kRoot, {1, 2});
  for (const std::string& line : lines_of(a.parameters)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = line.substr(0, eq), value = line.substr(eq + 1);
    for (const Parameter& p : kParameters) {
      if (name != p.name) continue;
      view[child(sysctl, {p.arc, 0})] =
          p.type == Type::integer ? integer(std::strtoll(value.c_str(), nullptr, 10)) : octets(value);
    }
  }
  // Totals, workers and sockets: `stat --snmp`.
  struct Total {
    const char* name;
    std::uint32_t arc;
    Type type;
  };
  static constexpr Total kTotals[] = {
      {"inBitRate", 1, Type::counter64},  {"inPacketRate", 2, Type::gauge32},   {"inFlows", 3, Type::counter64},
      {"inPackets", 4, Type::counter64},  {"inBytes", 5, Type::counter64},      {"hashMetric", 6, Type::gauge32},
      {"hashMemory", 7, Type::gauge32},   {"hashFlows", 8, Type::gauge32},      {"hashPackets", 9, Type::gauge32},
      {"hashBytes", 10, Type::counter64}, {"dropPackets", 11, Type::counter64}, {"dropBytes", 12, Type::counter64},
      {"outByteRate", 13, Type::gauge32}, {"outFlows", 14, Type::counter64},    {"outPackets", 15, Type::counter64},
      {"outBytes", 16, Type::counter64},  {"lostFlows", 17, Type::counter64},   {"lostPackets", 18, Type::counter64},
      {"lostBytes", 19, Type::counter64}, {"errTotal", 20, Type::counter32},
  };
  const Oid totals = child(kRoot, {2, 1});
  const Oid cpu = child(kRoot, {2, 2, 1});
  const Oid sock = child(kRoot, {2, 3, 1});
  for (const std::string& line : lines_of(a.stat_snmp)) {
    const std::vector<std::string> w = words_of(line);
    if (w.size() < 2) continue;
    if (w[0].rfind("worker", 0) == 0 && w.size() >= 9) {
      // worker<i> flows packets bytes metric drop-packets drop-bytes maxflows alloc
      const auto i = static_cast<std::uint32_t>(number(w[0].substr(6)));
      view[child(cpu, {1, i})] = integer(i);
      view[child(cpu, {3, i})] = counter64(number(w[1]));
      view[child(cpu, {4, i})] = counter64(number(w[2]));
      view[child(cpu, {5, i})] = counter64(number(w[3]));
      view[child(cpu, {6, i})] = gauge(hundredths(w[4]));
      view[child(cpu, {7, i})] = counter64(number(w[5]));
      view[child(cpu, {8, i})] = counter64(number(w[6]));
      view[child(cpu, {11, i})] = counter32(number(w[8]));  // cpuErrAlloc
      view[child(cpu, {12, i})] = counter32(number(w[7]));  // cpuErrMaxflows
      continue;
    }
    if (w[0].rfind("sock", 0) == 0 && w.size() >= 8) {
      // sock<i> destination active err-connect err-full err-cberr err-other sndbuf
      const auto i = static_cast<std::uint32_t>(number(w[0].substr(4)));
      view[child(sock, {2, i})] = octets(w[1]);
      view[child(sock, {3, i})] = integer(static_cast<std::int64_t>(number(w[2])));
      for (std::uint32_t col = 4; col <= 7; ++col) view[child(sock, {col, i})] = counter32(number(w[col - 1]));
      view[child(sock, {8, i})] = gauge(number(w[7]));
      continue;
    }
    for (const Total& t : kTotals) {
      if (w[0] != t.name) continue;
      const std::uint64_t v = t.arc == 6 ? hundredths(w[1]) : number(w[1]);
      view[child(totals, {t.arc, 0})] = t.type == Type::counter64   ? counter64(v)
                                        : t.type == Type::counter32 ? counter32(v)
                                                                    : gauge(v);
    }
  }
  return view;
}

std::optional<Writable> writable(const Oid& instance) {
  const Oid sysctl = child(kRoot, {1, 2});
  if (instance.size() != sysctl.size() + 2 || !std::equal(sysctl.begin(), sysctl.end(), instance.begin()) ||
      instance.back() != 0) {
    return std::nullopt;
  }
  for (const Parameter& p : kParameters) {
    if (instance[sysctl.size()] == p.arc) return Writable{p.name, p.type};
  }
  return std::nullopt;
}

std::optional<std::string> parameter_text(const Value& v) {
  if (v.type != Type::octets) return std::to_string(static_cast<std::int32_t>(static_cast<std::uint32_t>(v.number)));
  std::string text = v.octets;
  for (char& c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      c = ',';
    } else if (is_control_byte(c)) {
      return std::nullopt;
    }
  }
  return text;
}

}  // namespace netflowd::snmp
