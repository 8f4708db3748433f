#include "flow/aggregation.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace netflowd {
namespace {

ParsedPacket v4(std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst, std::uint16_t sport,
                std::uint16_t dport, std::uint8_t proto = 17) {
  ParsedPacket p;
  p.family = IpFamily::v4;
  p.protocol = proto;
  std::copy(src.begin(), src.end(), p.src.begin());
  std::copy(dst.begin(), dst.end(), p.dst.begin());
  p.src_port = sport;
  p.dst_port = dport;
  return p;
}

TEST(Aggregation, NetworkRulesCutMatchingAddresses) {
  const auto rules = AggregationRules::parse("10.0.0.0/8=16, 192.168.0.0/16=24");
  std::vector<std::uint64_t> usage(rules.size());
  ParsedPacket p = v4({10, 1, 2, 3}, {192, 168, 5, 77}, 1000, 53);
  rules.apply(p, usage);
  EXPECT_EQ((std::array<std::uint8_t, 4>{p.src[0], p.src[1], p.src[2], p.src[3]}),
            (std::array<std::uint8_t, 4>{10, 1, 0, 0}));
  EXPECT_EQ(p.src_prefix, 16) << "the length the address was cut to, not the match length";
  EXPECT_EQ(p.dst[2], 5);
  EXPECT_EQ(p.dst[3], 0);
  EXPECT_EQ(p.dst_prefix, 24);
  EXPECT_EQ(usage, (std::vector<std::uint64_t>{1, 1}));
  ParsedPacket other = v4({172, 16, 0, 1}, {8, 8, 8, 8}, 1, 2);
  rules.apply(other, usage);
  EXPECT_EQ(other.src[3], 1) << "no rule matched";
  EXPECT_EQ(other.src_prefix, 0);
}

TEST(Aggregation, FirstMatchingRuleWins) {
  const auto rules = AggregationRules::parse("10.1.0.0/16=32 10.0.0.0/8=8");
  std::vector<std::uint64_t> usage(rules.size());
  ParsedPacket p = v4({10, 1, 2, 3}, {10, 2, 2, 3}, 1, 2);
  rules.apply(p, usage);
  EXPECT_EQ(p.src[3], 3);
  EXPECT_EQ(p.src_prefix, 32);
  EXPECT_EQ(p.dst[1], 0);
  EXPECT_EQ(p.dst_prefix, 8);
}

TEST(Aggregation, PortRules) {
  const auto rules = AggregationRules::parse("1024-65535=0;80=8080");
  std::vector<std::uint64_t> usage(rules.size());
  ParsedPacket p = v4({1, 1, 1, 1}, {2, 2, 2, 2}, 40000, 80);
  rules.apply(p, usage);
  EXPECT_EQ(p.src_port, 0);
  EXPECT_EQ(p.dst_port, 8080);
  ParsedPacket q = v4({1, 1, 1, 1}, {2, 2, 2, 2}, 79, 81);
  rules.apply(q, usage);
  EXPECT_EQ(q.src_port, 79) << "P=Q matches exactly P (upstream read an uninitialised bound)";
  EXPECT_EQ(q.dst_port, 81);
  ParsedPacket icmp = v4({1, 1, 1, 1}, {2, 2, 2, 2}, 0, 2048, 1);
  rules.apply(icmp, usage);
  EXPECT_EQ(icmp.dst_port, 2048) << "port rules apply only to TCP/UDP/SCTP/UDP-Lite";
  EXPECT_EQ(usage, (std::vector<std::uint64_t>{1, 1}));
}

TEST(Aggregation, Ipv6IsNotAggregated) {
  const auto rules = AggregationRules::parse("0.0.0.0/0=8");
  std::vector<std::uint64_t> usage(rules.size());
  ParsedPacket p = v4({10, 1, 2, 3}, {10, 2, 2, 3}, 1, 2);
  p.family = IpFamily::v6;
  rules.apply(p, usage);
  EXPECT_EQ(p.src[1], 1);
  EXPECT_EQ(usage[0], 0u);
}

TEST(Aggregation, BadTokensRejectTheWholeValue) {
  for (const char* bad : {"10.0.0.0/8", "10.0.0.0/33=8", "10.0.0/8=16", "x=1", "70000=1", "90-80=1", "10.0.0.0/8=a"}) {
    try {
      AggregationRules::parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ParameterError& e) {
      EXPECT_EQ(e.name(), "aggregation");
    }
  }
  EXPECT_TRUE(AggregationRules::parse(" , ").empty());
}

}  // namespace
}  // namespace netflowd
