#include "flow/flow_cache.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace netflowd {
namespace {

ParsedPacket udp_packet(std::uint32_t src, std::uint16_t sport, std::uint32_t length = 100) {
  ParsedPacket p;
  p.family = IpFamily::v4;
  p.protocol = 17;
  p.src = {static_cast<std::uint8_t>(src >> 24), static_cast<std::uint8_t>(src >> 16),
           static_cast<std::uint8_t>(src >> 8), static_cast<std::uint8_t>(src)};
  p.dst = {10, 0, 0, 1};
  p.src_port = sport;
  p.dst_port = 53;
  p.ip_length = length;
  return p;
}

PacketMeta at(TimeUs t) {
  PacketMeta m;
  m.timestamp = t;
  return m;
}

FlowCacheConfig config(std::uint32_t active_s = 60, std::uint32_t inactive_s = 15) {
  FlowCacheConfig c;
  c.active_timeout = seconds_to_us(active_s);
  c.inactive_timeout = seconds_to_us(inactive_s);
  c.hashsize = 256;
  return c;
}

TEST(FlowCache, PacketsOfOneKeyMakeOneFlow) {
  FlowCache cache(config());
  std::vector<FlowRecord> ended;
  ParsedPacket p = udp_packet(0x0a000002, 1000);
  p.tcp_flags = 0;
  for (int i = 0; i < 5; ++i) cache.meter(p, at(1'000'000 + i * 1000), ended);
  EXPECT_TRUE(ended.empty());
  EXPECT_EQ(cache.size(), 1u);
  cache.flush(ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].packets, 5u);
  EXPECT_EQ(ended[0].bytes, 500u);
  EXPECT_EQ(ended[0].first, 1'000'000);
  EXPECT_EQ(ended[0].last, 1'004'000);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::forced_end);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(FlowCache, InactiveTimeoutIsStrictlyGreater) {
  FlowCache cache(config(60, 15));
  std::vector<FlowRecord> ended;
  cache.meter(udp_packet(1, 1), at(0), ended);
  cache.expire(seconds_to_us(15), ended);
  EXPECT_TRUE(ended.empty());
  cache.expire(seconds_to_us(15) + 1, ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::idle_timeout);
}

TEST(FlowCache, TcpFinMakesEndOfFlowReason) {
  FlowCache cache(config());
  std::vector<FlowRecord> ended;
  ParsedPacket p = udp_packet(1, 1);
  p.protocol = 6;
  p.tcp_flags = 0x02;
  cache.meter(p, at(0), ended);
  p.tcp_flags = 0x11;  // FIN+ACK
  cache.meter(p, at(1000), ended);
  EXPECT_TRUE(ended.empty()) << "FIN does not end a flow early";
  cache.expire(seconds_to_us(20), ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::end_of_flow);
  EXPECT_EQ(ended[0].tcp_flags, 0x13);
}

TEST(FlowCache, ActiveTimeoutSplitsOnThePacketPath) {
  FlowCache cache(config(60, 15));
  std::vector<FlowRecord> ended;
  const ParsedPacket p = udp_packet(1, 1);
  for (int s = 0; s <= 70; s += 10) cache.meter(p, at(seconds_to_us(s)), ended);
  // Packets at 0..60 s belong to the first flow; the one at 70 s (> 60 s after the first)
  // starts a new flow.
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].packets, 7u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::active_timeout);
  cache.flush(ended);
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[1].packets, 1u);
  EXPECT_EQ(ended[1].first, seconds_to_us(70));
}

TEST(FlowCache, IdleFlowEndsOnThePacketPathEvenBeforeTheSweep) {
  FlowCache cache(config(60, 15));
  std::vector<FlowRecord> ended;
  const ParsedPacket p = udp_packet(1, 1);
  cache.meter(p, at(0), ended);
  cache.meter(p, at(seconds_to_us(16)), ended);  // no expire() in between
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].packets, 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::idle_timeout);
  cache.flush(ended);
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[1].first, seconds_to_us(16));
}

TEST(FlowCache, ActiveTimeoutIsFoundBySweepToo) {
  FlowCache cache(config(60, 100));
  std::vector<FlowRecord> ended;
  const ParsedPacket p = udp_packet(1, 1);
  for (int s = 0; s <= 60; s += 5) cache.meter(p, at(seconds_to_us(s)), ended);
  cache.expire(seconds_to_us(61), ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::active_timeout);
}

TEST(FlowCache, MaxflowsDropsNewFlowsAndCountsThem) {
  FlowCacheConfig c = config();
  c.maxflows = 3;
  FlowCache cache(c);
  std::vector<FlowRecord> ended;
  for (std::uint16_t i = 0; i < 5; ++i) {
    const MeterResult r = cache.meter(udp_packet(1, i, 40), at(0), ended);
    EXPECT_EQ(r, i < 3 ? MeterResult::metered : MeterResult::dropped_maxflows);
  }
  EXPECT_EQ(cache.meter(udp_packet(1, 0, 40), at(1), ended), MeterResult::metered) << "existing flows still count";
  EXPECT_EQ(cache.stats().maxflows_dropped_packets, 2u);
  EXPECT_EQ(cache.stats().maxflows_dropped_bytes, 80u);
  EXPECT_EQ(cache.stats().packets, 4u);
}

TEST(FlowCache, CounterLimitSplitsBeforeWrapping) {
  FlowCacheConfig c = config();
  c.counter_limit = 1000;
  FlowCache cache(c);
  std::vector<FlowRecord> ended;
  for (int i = 0; i < 25; ++i) cache.meter(udp_packet(1, 1, 100), at(i), ended);
  cache.flush(ended);
  std::uint64_t total = 0;
  for (const auto& r : ended) {
    EXPECT_LE(r.bytes, 1000u);
    total += r.bytes;
  }
  EXPECT_EQ(total, 2500u);
  EXPECT_EQ(ended.size(), 3u);
}

TEST(FlowCache, InactiveTimeoutZeroFlushesEveryScan) {
  FlowCache cache(config(60, 0));
  std::vector<FlowRecord> ended;
  cache.meter(udp_packet(1, 1), at(0), ended);
  cache.expire(1, ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::forced_end);
}

// Many flows, expired in an interleaved order: the index (linear probing with backward-shift
// deletion and growth) must keep finding every live flow and lose no packet.
TEST(FlowCache, ManyFlowsSurviveGrowthAndDeletion) {
  FlowCache cache(config(1000, 10));
  std::vector<FlowRecord> ended;
  constexpr std::uint32_t kFlows = 50000;
  std::map<std::uint32_t, std::uint64_t> expected;  // src -> packets
  for (std::uint32_t i = 0; i < kFlows; ++i) {
    cache.meter(udp_packet(i, 7), at(i % 2 == 0 ? 0 : seconds_to_us(20)), ended);
    ++expected[i];
  }
  EXPECT_GT(cache.stats().index_grows, 0u);
  // Even sources went idle at 0 s: at 25 s they expire, odd ones (20 s) do not.
  cache.expire(seconds_to_us(25), ended);
  EXPECT_EQ(ended.size(), kFlows / 2);
  for (std::uint32_t i = 1; i < kFlows; i += 2) {
    cache.meter(udp_packet(i, 7), at(seconds_to_us(26)), ended);
    ++expected[i];
  }
  EXPECT_EQ(cache.size(), kFlows / 2) << "every odd flow was found again, none duplicated";
  cache.flush(ended);
  std::map<std::uint32_t, std::uint64_t> got;
  for (const auto& r : ended) {
    const std::uint32_t src = (std::uint32_t{r.key.src[0]} << 24) | (std::uint32_t{r.key.src[1]} << 16) |
                              (std::uint32_t{r.key.src[2]} << 8) | r.key.src[3];
    got[src] += r.packets;
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(cache.stats().flows_created, kFlows);
}

TEST(FlowCache, KeyFieldsSeparateFlows) {
  FlowCache cache(config());
  std::vector<FlowRecord> ended;
  ParsedPacket p = udp_packet(1, 1);
  cache.meter(p, at(0), ended);
  p.tos = 4;
  cache.meter(p, at(0), ended);
  p.vlan_tci[0] = 10;
  cache.meter(p, at(0), ended);
  PacketMeta m = at(0);
  m.in_ifindex = 3;
  cache.meter(p, m, ended);
  p.tcp_flags = 0x10;  // not a key field
  cache.meter(p, m, ended);
  EXPECT_EQ(cache.size(), 4u);
}

}  // namespace
}  // namespace netflowd
