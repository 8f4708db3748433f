#include "flow/flow_cache.hpp"

#include <gtest/gtest.h>

#include "common/flow_shard.hpp"
#include "flow/meter_pipeline.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <tuple>
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

// Two caches' records, in the same order, alike in everything a flow has.
void expect_same_records(const std::vector<FlowRecord>& a, const std::vector<FlowRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key) << i;
    EXPECT_EQ(a[i].packets, b[i].packets) << i;
    EXPECT_EQ(a[i].bytes, b[i].bytes) << i;
    EXPECT_EQ(a[i].first, b[i].first) << i;
    EXPECT_EQ(a[i].last, b[i].last) << i;
    EXPECT_EQ(a[i].out_ifindex, b[i].out_ifindex) << i;
    EXPECT_EQ(a[i].phys_in_ifindex, b[i].phys_in_ifindex) << i;
    EXPECT_EQ(a[i].end_reason, b[i].end_reason) << i;
  }
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

// Every field of a record survives the compact entry: key fields, counters, times, options
// by family, bridge ports and MACs only where they are kept.
TEST(FlowCache, RecordsKeepEveryFieldThroughTheCompactEntry) {
  for (const bool wide : {false, true}) {
    FlowCacheConfig c = config();
    c.key_options.mac = wide;
    c.key_options.mpls_labels = wide ? 2 : 0;
    c.keep_physdev = wide;
    c.number_flows = true;
    FlowCache cache(c);
    std::vector<FlowRecord> ended;
    ParsedPacket p6 = udp_packet(0, 9);
    p6.family = IpFamily::v6;
    for (std::size_t i = 0; i < 16; ++i) p6.src[i] = static_cast<std::uint8_t>(0x20 + i);
    for (std::size_t i = 0; i < 16; ++i) p6.dst[i] = static_cast<std::uint8_t>(0xf0 - i);
    p6.protocol = 6;
    p6.tos = 0xb8;
    p6.src_port = 443;
    p6.dst_port = 51000;
    p6.vlan_tci = {0x2064, 0x0123};
    p6.tcp_flags = 0x02;
    p6.tcp_options = 1ull << 34;
    p6.ipv6_ext = 1u << kExtHop;
    p6.flow_label = 0xabcde;
    p6.ipsec_spi = 0x11223344;
    p6.src_prefix = 48;
    p6.dst_prefix = 64;
    p6.mpls_count = 3;
    p6.mpls = {0x00001140, 0x00002140, 0x00003140};
    p6.src_mac = {2, 0, 0, 0, 0, 1};
    p6.dst_mac = {2, 0, 0, 0, 0, 2};
    PacketMeta m = at(seconds_to_us(5) + 17);
    m.in_ifindex = 7;
    m.out_ifindex = 8;
    m.phys_in_ifindex = 11;
    m.phys_out_ifindex = 12;
    m.direction = FlowDirection::forward;
    cache.meter(p6, m, ended);
    p6.tcp_flags = 0x11;
    p6.tcp_options = 1ull << 2;
    p6.ipv6_ext = 1u << kExtDst;
    p6.ip_length = 1500;
    m.timestamp = seconds_to_us(9) + 3;
    m.out_ifindex = 99;  // not a key field: the first packet's is kept
    cache.meter(p6, m, ended);
    ASSERT_EQ(cache.size(), 1u);
    cache.flush(ended);
    ASSERT_EQ(ended.size(), 1u);
    const FlowRecord& r = ended[0];
    EXPECT_EQ(r.key, make_flow_key(p6, 7, c.key_options));
    EXPECT_EQ(r.key.family, IpFamily::v6);
    EXPECT_EQ(r.key.tos, 0xb8);
    EXPECT_EQ(r.packets, 2u);
    EXPECT_EQ(r.bytes, 1600u);
    EXPECT_EQ(r.first, seconds_to_us(5) + 17);
    EXPECT_EQ(r.last, seconds_to_us(9) + 3);
    EXPECT_EQ(r.out_ifindex, 8u);
    EXPECT_EQ(r.phys_in_ifindex, wide ? 11u : kNoInterface);
    EXPECT_EQ(r.phys_out_ifindex, wide ? 12u : kNoInterface);
    EXPECT_EQ(r.tcp_flags, 0x13);
    EXPECT_EQ(r.tcp_options, (1ull << 34) | (1ull << 2));
    EXPECT_EQ(r.ipv6_ext, (1u << kExtHop) | (1u << kExtDst));
    EXPECT_EQ(r.ipv4_options, 0u);
    EXPECT_EQ(r.flow_label, 0xabcdeu);
    EXPECT_EQ(r.ipsec_spi, 0x11223344u);
    EXPECT_EQ(r.ethertype, 0x86dd);
    EXPECT_EQ(r.src_prefix, 48);
    EXPECT_EQ(r.dst_prefix, 64);
    EXPECT_EQ(r.direction, FlowDirection::forward);
    EXPECT_EQ(r.creation_seq, 1u);
    if (wide) {
      EXPECT_EQ(r.key.src_mac, p6.src_mac);
      EXPECT_EQ(r.key.mpls[1], 0x00002140u);
      EXPECT_EQ(r.key.mpls[2], 0u) << "only mpls_labels entries are key fields";
    } else {
      EXPECT_EQ(r.key.src_mac, (std::array<std::uint8_t, 6>{}));
    }

    ParsedPacket p4 = udp_packet(0x0a000001, 5);
    p4.ipv4_options = 1u << 7;
    cache.meter(p4, at(0), ended);
    cache.flush(ended);
    EXPECT_EQ(ended.back().ipv4_options, 1u << 7);
    EXPECT_EQ(ended.back().ipv6_ext, 0u);
    EXPECT_EQ(ended.back().ethertype, 0x0800);
  }
}

ParsedPacket udp6_packet(std::uint32_t host, std::uint16_t sport) {
  ParsedPacket p = udp_packet(0, sport);
  p.family = IpFamily::v6;
  p.src = {0x20, 0x01, 0x0d, 0xb8};
  p.src[12] = static_cast<std::uint8_t>(host >> 24);
  p.src[13] = static_cast<std::uint8_t>(host >> 16);
  p.src[14] = static_cast<std::uint8_t>(host >> 8);
  p.src[15] = static_cast<std::uint8_t>(host);
  p.dst = {0x20, 0x01, 0x0d, 0xb8};
  p.dst[15] = 1;
  return p;
}

// Entries keep two IPv4 addresses in one word and IPv6 addresses in records of their own:
// keys that look alike in either form stay apart, and records are reused as flows come and go.
TEST(FlowCache, Ipv6AddressRecordsKeepKeysApartAndAreReused) {
  FlowCache cache(config(60, 15));
  std::vector<FlowRecord> ended;
  ParsedPacket v6_short = udp_packet(0, 1);  // only the first 4 address bytes set
  v6_short.family = IpFamily::v6;
  v6_short.src = {10, 0, 0, 2};
  v6_short.dst = {10, 0, 0, 1};
  const ParsedPacket v4 = udp_packet(0x0a000002, 1);  // the same bytes as IPv4
  ParsedPacket v6_long = v6_short;
  v6_long.src[15] = 1;  // differs only past the first 4 bytes
  for (const ParsedPacket& p : {v6_short, v4, v6_long, v6_short}) cache.meter(p, at(0), ended);
  EXPECT_EQ(cache.size(), 3u);
  cache.flush(ended);
  ASSERT_EQ(ended.size(), 3u);
  const std::array<FlowKey, 3> keys = {make_flow_key(v6_short, kNoInterface), make_flow_key(v4, kNoInterface),
                                       make_flow_key(v6_long, kNoInterface)};
  const std::array<std::uint64_t, 3> packets = {2, 1, 1};
  std::array<int, 3> seen{};
  for (const FlowRecord& r : ended) {
    const auto k = std::find(keys.begin(), keys.end(), r.key) - keys.begin();
    ASSERT_LT(k, 3) << "a record with a key no packet had";
    ++seen[k];
    EXPECT_EQ(r.packets, packets[k]);
  }
  EXPECT_EQ(seen, (std::array<int, 3>{1, 1, 1}));
  ended.clear();

  // Waves of IPv6 flows that expire, mixed with IPv4 ones: every record comes back with its
  // key, and the address records of ended flows are reused instead of piling up.
  const std::uint32_t kWave = 12000;  // four waves need more address records than one chunk holds
  std::size_t memory_after_first_wave = 0;
  for (std::uint32_t wave = 0; wave < 4; ++wave) {
    const TimeUs t = seconds_to_us(100) * wave;
    for (std::uint32_t i = 0; i < kWave; ++i) {
      cache.meter(udp6_packet(wave * kWave + i, 7), at(t), ended);
      cache.meter(udp_packet(wave * kWave + i, 7), at(t), ended);
    }
    // An active timeout on the packet path starts the next flow in the same entry.
    cache.meter(udp6_packet(wave * kWave, 7), at(t + seconds_to_us(61)), ended);
    cache.expire(t + seconds_to_us(99), ended);
    EXPECT_EQ(cache.size(), 0u);
    ASSERT_EQ(ended.size(), 2 * kWave + 1) << "wave " << wave;  // one flow was split in two
    std::map<std::uint32_t, std::uint64_t> v6_packets;
    for (const FlowRecord& r : ended) {
      if (r.key.family != IpFamily::v6) {
        const std::uint32_t src = std::uint32_t{r.key.src[0]} << 24 | std::uint32_t{r.key.src[1]} << 16 |
                                  std::uint32_t{r.key.src[2]} << 8 | r.key.src[3];
        EXPECT_EQ(r.key, make_flow_key(udp_packet(src, 7), kNoInterface));
        EXPECT_EQ(src / kWave, wave);
        continue;
      }
      const std::uint32_t host = std::uint32_t{r.key.src[12]} << 24 | std::uint32_t{r.key.src[13]} << 16 |
                                 std::uint32_t{r.key.src[14]} << 8 | r.key.src[15];
      EXPECT_EQ(r.key, make_flow_key(udp6_packet(host, 7), kNoInterface));
      v6_packets[host] += r.packets;
    }
    EXPECT_EQ(v6_packets.size(), kWave);
    EXPECT_EQ(v6_packets[wave * kWave], 2u);
    ended.clear();
    if (wave == 0) memory_after_first_wave = cache.memory_bytes();
  }
  EXPECT_EQ(cache.memory_bytes(), memory_after_first_wave);
}

// Index slots keep only part of the hash and no home position: when the slab grows past
// what the slots' entry-number field counts, when the index grows or is resized, and when
// deletions shift slots back, each moved flow is found again from its entry's key. Checked
// with IPv4, IPv6 (address records) and MAC keys (extensions), across five slab chunks.
TEST(FlowCache, IndexSlotsFollowTheSlabAndTheIndexThroughGrowthDeletionAndResize) {
  for (const bool mac : {false, true}) {
    FlowCacheConfig c = config(1000, 10);
    c.maxflows = 0;
    c.key_options.mac = mac;
    FlowCache cache(c);
    std::vector<FlowRecord> ended;
    std::map<std::pair<bool, std::uint32_t>, std::uint64_t> expected;  // (IPv6, host) -> packets
    auto packet = [&](bool v6, std::uint32_t host) {
      ParsedPacket p = v6 ? udp6_packet(host, 9) : udp_packet(host, 9);
      p.src_mac[5] = static_cast<std::uint8_t>(host);
      return p;
    };
    auto send = [&](bool v6, std::uint32_t host, TimeUs t) {
      EXPECT_EQ(cache.meter(packet(v6, host), at(t), ended), MeterResult::metered);
      ++expected[{v6, host}];
    };
    // 150,000 flows: five chunks of 32,768 entries, so the entry-number field widens three
    // times (16 -> 17 -> 18 bits) and the index grows from 256 slots to 262,144.
    constexpr std::uint32_t kHosts = 75'000;
    for (std::uint32_t h = 0; h < kHosts; ++h) {
      send(false, h, h % 3 == 0 ? 0 : seconds_to_us(20));
      send(true, h, h % 3 == 0 ? 0 : seconds_to_us(20));
    }
    ASSERT_EQ(cache.size(), 2 * kHosts);
    EXPECT_GE(cache.stats().index_grows, 10u);
    // A third of them idle since 0 s: the sweep removes them, shifting slots back.
    cache.expire(seconds_to_us(25), ended);
    const std::size_t removed = ended.size();
    EXPECT_EQ(removed, 2 * ((kHosts + 2) / 3));
    // The flows that stayed are all found after the shifts (no new flow)...
    for (std::uint32_t h = 0; h < kHosts; ++h) {
      if (h % 3 == 0) continue;
      send(false, h, seconds_to_us(22));
      send(true, h, seconds_to_us(22));
    }
    EXPECT_EQ(cache.size(), 2 * kHosts - removed);
    EXPECT_EQ(cache.stats().flows_created, 2 * kHosts);
    // ...and after a resize down to what the flows need and back up; the removed ones come
    // back as new flows.
    for (const std::uint32_t hashsize : {256u, 1u << 20}) {
      c.hashsize = hashsize;
      EXPECT_EQ(cache.reconfigure(c), FlowCache::Reconfigured::applied);
    }
    for (std::uint32_t h = 0; h < kHosts; ++h) {
      send(false, h, seconds_to_us(26));
      send(true, h, seconds_to_us(26));
    }
    EXPECT_EQ(cache.size(), 2 * kHosts);
    EXPECT_EQ(cache.stats().flows_created, 2 * kHosts + removed);
    cache.flush(ended);
    std::map<std::pair<bool, std::uint32_t>, std::uint64_t> got;
    for (const FlowRecord& r : ended) {
      const bool v6 = r.key.family == IpFamily::v6;
      const auto& a = r.key.src;
      const std::size_t o = v6 ? 12 : 0;
      const std::uint32_t host =
          std::uint32_t{a[o]} << 24 | std::uint32_t{a[o + 1]} << 16 | std::uint32_t{a[o + 2]} << 8 | a[o + 3];
      EXPECT_EQ(r.key, make_flow_key(packet(v6, host), kNoInterface, c.key_options));
      got[{v6, host}] += r.packets;
    }
    EXPECT_EQ(got, expected) << (mac ? "MAC key" : "plain key");
  }
}

TEST(FlowCache, MacAndMplsAreKeyFieldsOnlyWhenEnabled) {
  for (const bool enabled : {false, true}) {
    FlowCacheConfig c = config();
    c.key_options.mac = enabled;
    c.key_options.mpls_labels = enabled ? 1 : 0;
    FlowCache cache(c);
    std::vector<FlowRecord> ended;
    ParsedPacket p = udp_packet(1, 1);
    cache.meter(p, at(0), ended);
    p.src_mac[5] = 9;
    cache.meter(p, at(0), ended);
    p.mpls_count = 1;
    p.mpls[0] = 0x12345140;
    cache.meter(p, at(0), ended);
    EXPECT_EQ(cache.size(), enabled ? 3u : 1u);
  }
}

TEST(FlowCache, PrecomputedHashAndPrefetchGiveTheSameFlows) {
  FlowCache plain(config());
  FlowCache batched(config());
  std::vector<FlowRecord> a, b;
  for (std::uint32_t i = 0; i < 3000; ++i) {
    const ParsedPacket p = udp_packet(i % 700, static_cast<std::uint16_t>(i % 3), 60 + i % 5);
    plain.meter(p, at(i), a);
    MeterInput in;
    batched.input_of(p, at(i), in);
    EXPECT_EQ(in.hash, hash_flow_key(make_flow_key(p, 0))) << "one hash for both key forms";
    batched.prefetch_index(in.hash);
    batched.prefetch_entry(in.hash);
    batched.meter(in, b);
  }
  plain.flush(a);
  batched.flush(b);
  EXPECT_EQ(batched.size(), 0u);
  ASSERT_EQ(a.size(), b.size());
  std::uint64_t packets_a = 0, packets_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].key, b[i].key);
    EXPECT_EQ(a[i].bytes, b[i].bytes);
    packets_a += a[i].packets;
    packets_b += b[i].packets;
  }
  EXPECT_EQ(packets_a, 3000u);
  EXPECT_EQ(packets_b, 3000u);
}

// drain() (the end of a capture file: each record made in place and handed over) ends the same
// flows with the same records as flush(), in both key layouts, and leaves an empty cache that
// meters again from the start of its slab.
TEST(FlowCache, DrainHandsOverWhatFlushWouldReturn) {
  for (const bool wide : {false, true}) {
    FlowCacheConfig c = config();
    c.key_options.mac = wide;
    c.keep_physdev = wide;
    FlowCache flushed(c);
    FlowCache drained(c);
    std::vector<FlowRecord> ended;
    for (std::uint32_t i = 0; i < 3000; ++i) {
      ParsedPacket p = udp_packet(i % 900, static_cast<std::uint16_t>(i % 2), 60 + i % 7);
      p.src_mac[5] = static_cast<std::uint8_t>(i % 3);
      PacketMeta m = at(i);
      m.out_ifindex = 4 + i % 2;
      m.phys_in_ifindex = wide ? 7 + i % 3 : 0;
      flushed.meter(p, m, ended);
      drained.meter(p, m, ended);
    }
    ASSERT_TRUE(ended.empty());
    std::vector<FlowRecord> a, b;
    flushed.flush(a, FlowEndReason::lack_of_resources);
    drained.drain(FlowEndReason::lack_of_resources, [&](const FlowRecord& r) { b.push_back(r); });
    EXPECT_EQ(drained.size(), 0u);
    expect_same_records(a, b);
    for (const FlowRecord& r : b) EXPECT_EQ(r.end_reason, FlowEndReason::lack_of_resources);
    drained.meter(udp_packet(1, 1), at(5000), ended);
    EXPECT_EQ(drained.size(), 1u) << "metering goes on after a drain";
    std::uint64_t packets = 0;
    drained.drain(FlowEndReason::forced_end, [&](const FlowRecord& r) { packets += r.packets; });
    EXPECT_EQ(packets, 1u);
  }
}

// The output interface, SPI and creation number take memory only in chunks of the slab where
// some flow has one; every other flow reads them as 0, also one that reuses the entry of a
// flow that had them.
TEST(FlowCache, FirstPacketFactsTakeMemoryOnlyWhereSomeFlowHasThem) {
  FlowCache plain(config(60, 1));
  FlowCache marked(config(60, 1));
  std::vector<FlowRecord> ended;
  for (std::uint32_t i = 0; i < 40000; ++i) {  // more than one slab chunk
    plain.meter(udp_packet(i, 1), at(0), ended);
    marked.meter(udp_packet(i, 1), at(0), ended);
  }
  EXPECT_EQ(plain.memory_bytes(), marked.memory_bytes());
  PacketMeta routed = at(seconds_to_us(1));
  routed.out_ifindex = 5;
  marked.meter(udp_packet(0x0b000001, 2), routed, ended);
  plain.meter(udp_packet(0x0b000001, 2), at(seconds_to_us(1)), ended);
  EXPECT_EQ(marked.memory_bytes() - plain.memory_bytes(), 32768u * 12u) << "one chunk of 12-byte records";
  // Everything ends; the routed flow's entry is reused by a flow without an output interface.
  marked.expire(seconds_to_us(30), ended);
  marked.expire(seconds_to_us(30), ended);
  ASSERT_EQ(ended.size(), 40001u);
  EXPECT_EQ(std::count_if(ended.begin(), ended.end(), [](const FlowRecord& r) { return r.out_ifindex == 5; }), 1);
  EXPECT_TRUE(std::all_of(ended.begin(), ended.end(), [](const FlowRecord& r) { return r.creation_seq == 0; }));
  ended.clear();
  marked.meter(udp_packet(0x0c000001, 3), at(seconds_to_us(31)), ended);
  marked.flush(ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].out_ifindex, kNoInterface);

  // Numbered flows: 1, 2, 3 in creation order.
  FlowCacheConfig c = config();
  c.number_flows = true;
  FlowCache numbered(c);
  ended.clear();
  for (std::uint32_t i = 0; i < 3; ++i) numbered.meter(udp_packet(i, 1), at(0), ended);
  numbered.flush(ended);
  std::vector<std::uint32_t> numbers;
  for (const FlowRecord& r : ended) numbers.push_back(r.creation_seq);
  std::sort(numbers.begin(), numbers.end());
  EXPECT_EQ(numbers, (std::vector<std::uint32_t>{1, 2, 3}));
}

// meter() looks first where prefetch_entry() found the flow's slot. The index changes between
// the two (new flows, expired flows shifting slots back, growth); a hint that no longer holds
// the flow, or is no slot at all, must only cost the full probe.
TEST(FlowCache, StaleOrWrongHintsGiveTheSameFlows) {
  FlowCache plain(config(60, 1));
  FlowCache hinted(config(60, 1));
  std::vector<FlowRecord> a, b;
  struct Pending {
    MeterInput in;
    std::uint32_t hint;
  };
  std::vector<Pending> pending;  // metered 24 packets after their hint was taken
  std::size_t hints_found = 0;
  auto meter_oldest = [&] {
    hinted.prefetch_address(pending.front().in, pending.front().hint);
    hinted.meter(pending.front().in, b, pending.front().hint);
    pending.erase(pending.begin());
  };
  for (std::uint32_t i = 0; i < 20000; ++i) {
    // Flows come and go: 3,000 keys, a third of them IPv6, idle for more than a second now
    // and then.
    const std::uint32_t host = (i * 7919u) % 3000;
    const ParsedPacket p = host % 3 == 0 ? udp6_packet(host, static_cast<std::uint16_t>(i % 2))
                                         : udp_packet(host, static_cast<std::uint16_t>(i % 2), 60 + i % 9);
    const TimeUs t = TimeUs{i} * 400;
    plain.meter(p, at(t), a);
    MeterInput in;
    hinted.input_of(p, at(t), in);
    std::uint32_t hint = hinted.prefetch_entry(in.hash);
    if (hint != FlowCache::kNoHint) ++hints_found;
    if (i % 7 == 3) hint = (i * 2654435761u) % static_cast<std::uint32_t>(hinted.index_capacity() + 64);  // any slot
    pending.push_back({in, hint});
    if (pending.size() > 24) meter_oldest();
    if (i % 1000 == 999) {
      while (!pending.empty()) meter_oldest();
      plain.expire(t, a);
      hinted.expire(t, b);
    }
  }
  while (!pending.empty()) meter_oldest();
  EXPECT_GT(hints_found, 10000u) << "most packets belong to flows the cache holds";
  EXPECT_GT(hinted.stats().index_grows, 0u);
  plain.flush(a);
  hinted.flush(b);
  auto order = [](const FlowRecord& x, const FlowRecord& y) {
    return std::tie(x.first, x.key.src_port, x.key.src) < std::tie(y.first, y.key.src_port, y.key.src);
  };
  std::sort(a.begin(), a.end(), order);
  std::sort(b.begin(), b.end(), order);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].key, b[k].key);
    EXPECT_EQ(a[k].packets, b[k].packets);
    EXPECT_EQ(a[k].bytes, b[k].bytes);
    EXPECT_EQ(a[k].last, b[k].last);
  }
}

// Entries keep the last packet's time in 32 bits of microseconds: a flow is split before it
// would outgrow them, even with a longer active timeout.
TEST(FlowCache, FlowsLongerThanTheEntrySpanAreSplit) {
  FlowCache cache(config(10 * 3600, 3600));
  std::vector<FlowRecord> ended;
  const ParsedPacket p = udp_packet(1, 1);
  for (TimeUs t = 0; t <= seconds_to_us(5000); t += seconds_to_us(1000)) cache.meter(p, at(t), ended);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::active_timeout);
  EXPECT_EQ(ended[0].packets, 5u);
  EXPECT_EQ(ended[0].last, seconds_to_us(4000));
  cache.flush(ended);
  EXPECT_EQ(ended[1].first, seconds_to_us(5000));
}

TEST(FlowCache, MemoryPerFlowStaysWithinBudget) {
  for (const bool v6 : {false, true}) {
    FlowCacheConfig c = config();
    c.maxflows = 0;
    FlowCache cache(c);
    std::vector<FlowRecord> ended;
    // Just under ten slab chunks of 32,768 entries (one 2 MiB huge page of 64-byte entries),
    // so that a partly used last chunk does not dominate.
    constexpr std::uint32_t kFlows = 10 * 32'768 - 500;
    for (std::uint32_t i = 0; i < kFlows; ++i) cache.meter(v6 ? udp6_packet(i, 1) : udp_packet(i, 1), at(0), ended);
    ASSERT_EQ(cache.size(), kFlows);
    // 64-byte entries, 32-byte address records for IPv6, and 4-byte index slots at a load
    // factor between 0.25 and 0.5 (here 0.31: 12.8 bytes per flow). The bound leaves room for
    // the 12-byte first-packet facts too, which no flow here needs.
    EXPECT_LE(cache.memory_bytes() / kFlows, (v6 ? 64u + 12 + 32 : 64u + 12) + 7) << (v6 ? "IPv6" : "IPv4");
  }
}

// The pipeline meters every packet, in the order they entered, exactly as metering them one
// by one does: the same records, split at the same packets (timeouts on the packet path), and
// the same packets refused at maxflows.
TEST(MeterPipeline, MetersLikeOneByOneInOrder) {
  FlowCacheConfig c = config(60, 5);
  c.maxflows = 600;
  FlowCache plain(c);
  FlowCache piped(c);
  MeterPipeline pipeline(piped);
  std::vector<FlowRecord> a, b;
  std::uint64_t refused_plain = 0, refused_piped = 0, refused_bytes = 0;
  auto on_drop = [&](const MeterInput& in) {
    ++refused_piped;
    refused_bytes += in.ip_length;
  };
  for (std::uint32_t i = 0; i < 5000; ++i) {
    // 700 keys (every fourth IPv6), more than maxflows; packet i of a key comes ~7 s after the
    // one before, so flows end idle on the packet path too.
    const ParsedPacket p = i % 700 % 4 == 0 ? udp6_packet(i % 700, static_cast<std::uint16_t>(i % 3))
                                            : udp_packet(i % 700, static_cast<std::uint16_t>(i % 3), 60 + i % 11);
    const PacketMeta m = at(TimeUs{i} * 10'000);
    if (plain.meter(p, m, a) == MeterResult::dropped_maxflows) ++refused_plain;
    piped.input_of(p, m, pipeline.slot());
    pipeline.commit(b, on_drop);
    if (i % 997 == 0) pipeline.flush(b, on_drop);  // flushes in between change nothing
  }
  pipeline.flush(b, on_drop);
  EXPECT_GT(refused_plain, 0u);
  EXPECT_EQ(refused_piped, refused_plain);
  EXPECT_EQ(refused_bytes, piped.stats().maxflows_dropped_bytes);
  EXPECT_GT(a.size(), 0u);
  plain.flush(a);
  piped.flush(b);
  expect_same_records(a, b);
  EXPECT_EQ(plain.stats().packets, piped.stats().packets);
}

// The worker of a flow (common/flow_shard.hpp), as the kernel's fanout program computes it
// from the packet's bytes: XOR of the big-endian address words, ports for TCP/UDP only.
TEST(FlowShard, FoldIsTheBigEndianXorOfAddressesAndPorts) {
  ParsedPacket p = udp_packet(0x0a4e0105, 10000);  // 10.78.1.5:10000 -> 10.0.0.1:53
  const std::uint32_t addresses = 0x0a4e0105u ^ 0x0a000001u;
  EXPECT_EQ(fold_for_shard(pack_flow_key(p, 7)), addresses ^ (10000u << 16 | 53u));
  p.protocol = 6;
  EXPECT_EQ(fold_for_shard(pack_flow_key(p, 7)), addresses ^ (10000u << 16 | 53u));
  p.protocol = 132;  // SCTP has ports in the key, but the kernel program reads only TCP/UDP
  EXPECT_EQ(fold_for_shard(pack_flow_key(p, 7)), addresses);

  ParsedPacket v6;
  v6.family = IpFamily::v6;
  v6.protocol = 17;
  std::uint32_t words = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    v6.src[i] = static_cast<std::uint8_t>(0x20 + 3 * i);
    v6.dst[i] = static_cast<std::uint8_t>(0xf0 - 7 * i);
  }
  for (std::size_t w = 0; w < 4; ++w) {
    for (const auto* a : {&v6.src, &v6.dst}) {
      words ^= std::uint32_t{(*a)[4 * w]} << 24 | std::uint32_t{(*a)[4 * w + 1]} << 16 |
               std::uint32_t{(*a)[4 * w + 2]} << 8 | (*a)[4 * w + 3];
    }
  }
  v6.src_port = 443;
  v6.dst_port = 50000;
  EXPECT_EQ(fold_for_shard(pack_flow_key(v6, 0)), words ^ (443u << 16 | 50000u));
}

// Flows between one pair of hosts still spread over the workers (by their ports).
TEST(FlowShard, FlowsOfOneHostPairSpreadOverTheWorkers) {
  std::vector<int> per_worker(4, 0);
  for (std::uint16_t port = 1000; port < 5000; ++port) {
    ++per_worker[shard_of_folded(fold_for_shard(pack_flow_key(udp_packet(0x0a000002, port), 1)), 4)];
  }
  for (int n : per_worker) EXPECT_NEAR(n, 1000, 150);
}

}  // namespace
}  // namespace netflowd
