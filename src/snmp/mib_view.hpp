// IPT-NETFLOW-MIB (reference §10) as netflowd fills it: every object instance the SNMP agent
// (netflowd-snmp) serves, built from what netflowd's control socket says. No net-snmp here:
// the view is plain data, so that it can be tested without an agent.
//
// Root iptNetflowMIB = .1.3.6.1.4.1.37476.9000.10.1:
//   .1.1 module scalars: 1 name ("netflowd"), 2 version, 4 loadTime (DateAndTime, UTC)
//   .1.2 parameters (read-write): 1 protocol, 2 hashsize, 3 maxflows, 4 active-timeout,
//        5 inactive-timeout, 6 sndbuf, 7 destination, 8 aggregation, 9 sampler, 10 natevents,
//        11 promisc, 12 snmp-rules
//   .2.1 totals: 1-20 as upstream (21 sndbufPeak: netflowd has no such number)
//   .2.2 iptNetflowCpuTable: one row per worker thread (index 0..), columns 1, 3-8, 11 and 12
//   .2.3 iptNetflowSockTable: one row per destination (index 0..), columns 2-8
// Objects netflowd has no value for are absent (noSuchObject), not zero: module srcversion
// and refcnt, scan-min, sndbufPeak, per-worker packet rates, trunc/frag errors, socket
// buffer fill and peak.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace netflowd::snmp {

using Oid = std::vector<std::uint32_t>;

enum class Type : std::uint8_t { integer, octets, counter32, gauge32, counter64 };

struct Value {
  Type type = Type::integer;
  std::uint64_t number = 0;  // integer: as two's complement of an int32
  std::string octets;
};

inline const Oid kRoot = {1, 3, 6, 1, 4, 1, 37476, 9000, 10, 1};

// What the control socket answered: `get` (name=value lines), `stat` (text) and `stat --snmp`,
// each without its leading "OK" line.
struct ControlAnswers {
  std::string parameters;
  std::string stat_text;
  std::string stat_snmp;
  std::int64_t now_unix = 0;  // for loadTime: now - uptime
};

// Every instance, in OID order (lexicographic on the arcs: GETNEXT order).
std::map<Oid, Value> build_view(const ControlAnswers& answers);

// A writable instance (.1.2.N.0): the parameter it sets and the type a SET must carry.
struct Writable {
  std::string parameter;
  Type type;
};
std::optional<Writable> writable(const Oid& instance);

// The text of a `netflowctl set NAME=TEXT` request for a SET's value, or nothing when the
// value cannot be one (a SET of it gets wrongValue). In a string, white space becomes a comma
// (every list parameter takes commas as separators), since it would split the request into
// further NAME=VALUE words, each one set: a SET of one object must not reach other
// parameters. Any other control byte (NUL, DEL, ...) refuses the value.
std::optional<std::string> parameter_text(const Value& v);

}  // namespace netflowd::snmp
