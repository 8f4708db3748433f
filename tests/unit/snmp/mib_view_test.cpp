// IPT-NETFLOW-MIB instances built from the control socket's answers: OIDs, types and values as
// the reference's §10 defines them, GETNEXT order, what may be set. The agent over AgentX, with
// a real snmpd and snmpget/snmpwalk/snmpset, is tested by control.snmp.
#include "snmp/mib_view.hpp"

#include <gtest/gtest.h>

namespace netflowd::snmp {
namespace {

Oid at(std::initializer_list<std::uint32_t> arcs) {
  Oid o = kRoot;
  o.insert(o.end(), arcs);
  return o;
}

ControlAnswers sample() {
  ControlAnswers a;
  a.parameters =
      "protocol=10\nhashsize=65536\nmaxflows=2000000\nactive_timeout=1800\ninactive_timeout=15\n"
      "sndbuf=0\ndestination=127.0.0.1:2055,10.0.0.1:4739\naggregation=\nsampler=\nnatevents=1\n"
      "promisc=0\nsnmp_rules=\nworkers=2\n";
  a.stat_text =
      "netflowd 0.1.0, protocol 10 (ipfix), refresh-rate 20, timeout-rate 30, (templates 3).\n"
      "Timeouts: active 1800s, inactive 15s. Maxflows 2000000\n"
      "Flows: active 1 (peak 1), mem 1664K, uptime 100s.\n";
  a.stat_snmp =
      "inBitRate        5000000000\ninPacketRate     9\ninFlows          12\ninPackets        345\n"
      "inBytes          67890\nhashMetric       1.25\nhashMemory       1703936\nhashFlows        1\n"
      "hashPackets      345\nhashBytes        67890\ndropPackets      2\ndropBytes        0\n"
      "outByteRate      10\noutFlows         11\noutPackets       3\noutBytes         4000\n"
      "lostFlows        0\nlostPackets      0\nlostBytes        0\nerrTotal         4294967297\n"
      "worker0 7 200 40000 1.00 3 180 1 2\nworker1 5 145 27890 1.50 0 0 0 0\n"
      "sock0 127.0.0.1:2055 1 0 0 0 0 212992\nsock1 10.0.0.1:4739 0 5 0 0 0 212992\n";
  a.now_unix = 1'800'000'100;  // 2027-01-15 08:01:40 UTC; start 100 s before
  return a;
}

TEST(MibView, ScalarsTablesTypesAndValues) {
  const auto v = build_view(sample());
  EXPECT_EQ(v.at(at({1, 1, 1, 0})).octets, "netflowd");
  EXPECT_EQ(v.at(at({1, 1, 2, 0})).octets, "0.1.0");
  const std::string when = v.at(at({1, 1, 4, 0})).octets;
  ASSERT_EQ(when.size(), 11u) << "DateAndTime with its UTC offset";
  EXPECT_EQ((static_cast<unsigned char>(when[0]) << 8) | static_cast<unsigned char>(when[1]), 2027);
  EXPECT_EQ(when[2], 1);
  EXPECT_EQ(when[3], 15);
  EXPECT_EQ(when[4], 8);
  EXPECT_EQ(when[5], 0);
  EXPECT_EQ(when[6], 0);
  EXPECT_EQ(v.at(at({1, 2, 1, 0})).type, Type::integer);
  EXPECT_EQ(v.at(at({1, 2, 1, 0})).number, 10u);
  EXPECT_EQ(v.at(at({1, 2, 7, 0})).octets, "127.0.0.1:2055,10.0.0.1:4739");
  EXPECT_EQ(v.at(at({1, 2, 10, 0})).number, 1u) << "natevents";
  EXPECT_EQ(v.count(at({1, 2, 13, 0})), 0u) << "scan-min has no value in netflowd";
  EXPECT_EQ(v.at(at({2, 1, 1, 0})).type, Type::counter64);
  EXPECT_EQ(v.at(at({2, 1, 1, 0})).number, 5'000'000'000u) << "64 bits";
  EXPECT_EQ(v.at(at({2, 1, 2, 0})).type, Type::gauge32);
  EXPECT_EQ(v.at(at({2, 1, 6, 0})).number, 125u) << "FixedDiv100";
  EXPECT_EQ(v.at(at({2, 1, 20, 0})).type, Type::counter32);
  EXPECT_EQ(v.at(at({2, 1, 20, 0})).number, 1u) << "Counter32 wraps";
  EXPECT_EQ(v.count(at({2, 1, 21, 0})), 0u) << "no sndbufPeak";
  EXPECT_EQ(v.at(at({2, 2, 1, 4, 1})).number, 145u) << "worker 1 packets";
  EXPECT_EQ(v.at(at({2, 2, 1, 6, 1})).number, 150u);
  EXPECT_EQ(v.at(at({2, 2, 1, 7, 0})).number, 3u) << "cpuDropPackets: maxflows and alloc";
  EXPECT_EQ(v.at(at({2, 2, 1, 8, 0})).number, 180u);
  EXPECT_EQ(v.at(at({2, 2, 1, 11, 0})).number, 2u) << "cpuErrAlloc";
  EXPECT_EQ(v.at(at({2, 2, 1, 11, 0})).type, Type::counter32);
  EXPECT_EQ(v.at(at({2, 2, 1, 12, 0})).number, 1u) << "cpuErrMaxflows";
  EXPECT_EQ(v.at(at({2, 3, 1, 2, 1})).octets, "10.0.0.1:4739");
  EXPECT_EQ(v.at(at({2, 3, 1, 3, 1})).number, 0u) << "not connected";
  EXPECT_EQ(v.at(at({2, 3, 1, 4, 1})).number, 5u);
  EXPECT_EQ(v.at(at({2, 3, 1, 8, 0})).number, 212992u);
}

// GETNEXT walks a table column by column, rows in index order, and tables after the totals.
TEST(MibView, WalkOrder) {
  const auto v = build_view(sample());
  auto next = [&](const Oid& o) { return v.upper_bound(o)->first; };
  EXPECT_EQ(next(at({2, 2, 1, 3, 1})), at({2, 2, 1, 4, 0}));
  EXPECT_EQ(next(at({2, 1, 20, 0})), at({2, 2, 1, 1, 0}));
  EXPECT_EQ(next(at({1})), at({1, 1, 1, 0}));
  EXPECT_EQ(v.upper_bound(at({2, 3, 1, 8, 1})), v.end());
}

// Unreachable netflowd: the module name only.
TEST(MibView, NothingButTheNameWithoutAnswers) {
  const auto v = build_view(ControlAnswers{});
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v.begin()->first, at({1, 1, 1, 0}));
}

TEST(MibView, WritableParameters) {
  EXPECT_EQ(writable(at({1, 2, 1, 0}))->parameter, "protocol");
  EXPECT_EQ(writable(at({1, 2, 7, 0}))->type, Type::octets);
  EXPECT_EQ(writable(at({1, 2, 10, 0}))->parameter, "natevents");
  EXPECT_FALSE(writable(at({1, 2, 1})));
  EXPECT_FALSE(writable(at({1, 2, 13, 0}))) << "scan-min";
  EXPECT_FALSE(writable(at({2, 1, 1, 0})));
  Value neg;
  neg.number = static_cast<std::uint32_t>(-1);
  EXPECT_EQ(parameter_text(neg), "-1");
}

// A string SET reaches its own parameter only: every white space byte (which would start a
// further NAME=VALUE word of the `set` request, e.g. "\vflush=2") becomes a comma, and a value
// with another control byte is refused. "\v", "\f" and "\r" used to pass through.
TEST(MibView, StringSetCannotReachOtherParameters) {
  Value v;
  v.type = Type::octets;
  v.octets = "10.0.0.0/8=16\vflush=2\f1.2.3.4\r5 6\t7\n8";
  EXPECT_EQ(parameter_text(v), "10.0.0.0/8=16,flush=2,1.2.3.4,5,6,7,8");
  for (const std::string& bad : {std::string("a\0b", 3), std::string("a\x01"), std::string("\x7f")}) {
    v.octets = bad;
    EXPECT_FALSE(parameter_text(v)) << "accepted a control byte";
  }
  v.octets = "deterministic:100";
  EXPECT_EQ(parameter_text(v), "deterministic:100");
}

}  // namespace
}  // namespace netflowd::snmp
