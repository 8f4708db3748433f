#include "export/netflow5/netflow5_encoder.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace netflowd {
namespace {

struct CollectingSink : DatagramSink {
  std::vector<std::vector<std::uint8_t>> datagrams;
  void send(std::span<const std::uint8_t> d, const DatagramContents&) override {
    datagrams.emplace_back(d.begin(), d.end());
  }
};

std::uint32_t be32(const std::vector<std::uint8_t>& b, std::size_t off) {
  return (std::uint32_t{b[off]} << 24) | (std::uint32_t{b[off + 1]} << 16) | (std::uint32_t{b[off + 2]} << 8) |
         b[off + 3];
}
std::uint16_t be16(const std::vector<std::uint8_t>& b, std::size_t off) {
  return static_cast<std::uint16_t>((b[off] << 8) | b[off + 1]);
}

constexpr TimeUs kBoot = 1'700'000'000LL * kUsPerSecond;

ExportConfig v5_config(std::uint32_t engine_id) {
  ExportConfig c;
  c.protocol = 5;
  c.engine_id = engine_id;
  c.boot_time = kBoot;
  return c;
}

FlowRecord v4_record(std::uint8_t last_octet) {
  FlowRecord r;
  r.key.family = IpFamily::v4;
  r.key.src = {192, 0, 2, last_octet};
  r.key.dst = {198, 51, 100, 7};
  r.key.src_port = 40000;
  r.key.dst_port = 443;
  r.key.protocol = 6;
  r.key.tos = 0x10;
  r.key.in_ifindex = 2;
  r.out_ifindex = 3;
  r.packets = 10;
  r.bytes = 5000;
  r.first = kBoot + 1500 * kUsPerMs;
  r.last = kBoot + 2500 * kUsPerMs;
  r.tcp_flags = 0x1b;
  return r;
}

TEST(Netflow5Encoder, HeaderAndRecordLayout) {
  CollectingSink sink;
  Netflow5Encoder enc(v5_config(0x1a7), sink);
  const TimeUs now = kBoot + 3'000'123'456;  // 3000.123456 s after boot
  enc.add(v4_record(1), now);
  enc.flush(now);
  ASSERT_EQ(sink.datagrams.size(), 1u);
  const auto& d = sink.datagrams[0];
  ASSERT_EQ(d.size(), 24u + 48u);
  EXPECT_EQ(be16(d, 0), 5);
  EXPECT_EQ(be16(d, 2), 1);
  EXPECT_EQ(be32(d, 4), 3'000'123u);      // sysUptime in ms
  EXPECT_EQ(be32(d, 8), 1'700'003'000u);  // unix_secs
  EXPECT_EQ(be32(d, 12), 123'456'000u);   // unix_nsecs: nanoseconds
  EXPECT_EQ(be32(d, 16), 0u);             // sequence
  EXPECT_EQ(d[20], 0);                    // engine_type
  EXPECT_EQ(d[21], 0xa7);                 // engine_id, low 8 bits
  const std::size_t r = 24;
  EXPECT_EQ(be32(d, r + 0), 0xc0000201u);
  EXPECT_EQ(be32(d, r + 4), 0xc6336407u);
  EXPECT_EQ(be32(d, r + 8), 0u);
  EXPECT_EQ(be16(d, r + 12), 2);
  EXPECT_EQ(be16(d, r + 14), 3);
  EXPECT_EQ(be32(d, r + 16), 10u);
  EXPECT_EQ(be32(d, r + 20), 5000u);
  EXPECT_EQ(be32(d, r + 24), 1500u);
  EXPECT_EQ(be32(d, r + 28), 2500u);
  EXPECT_EQ(be16(d, r + 32), 40000);
  EXPECT_EQ(be16(d, r + 34), 443);
  EXPECT_EQ(d[r + 37], 0x1b);
  EXPECT_EQ(d[r + 38], 6);
  EXPECT_EQ(d[r + 39], 0x10);
}

TEST(Netflow5Encoder, ThirtyRecordsPerDatagramAndRecordSequence) {
  CollectingSink sink;
  Netflow5Encoder enc(v5_config(0), sink);
  for (int i = 0; i < 65; ++i) enc.add(v4_record(static_cast<std::uint8_t>(i)), kBoot);
  EXPECT_EQ(sink.datagrams.size(), 2u) << "a full datagram is sent at once";
  EXPECT_GE(enc.pending_since(), 0);
  enc.flush(kBoot);
  ASSERT_EQ(sink.datagrams.size(), 3u);
  EXPECT_EQ(be16(sink.datagrams[0], 2), 30);
  EXPECT_EQ(be16(sink.datagrams[2], 2), 5);
  EXPECT_EQ(sink.datagrams[2].size(), 24u + 5 * 48u);
  EXPECT_EQ(be32(sink.datagrams[0], 16), 0u);
  EXPECT_EQ(be32(sink.datagrams[1], 16), 30u);
  EXPECT_EQ(be32(sink.datagrams[2], 16), 60u);
  EXPECT_EQ(enc.stats().records, 65u);
  EXPECT_EQ(enc.pending_since(), -1);
}

TEST(Netflow5Encoder, Ipv6FlowsAreCountedNotTruncated) {
  CollectingSink sink;
  Netflow5Encoder enc(v5_config(0), sink);
  FlowRecord r = v4_record(1);
  r.key.family = IpFamily::v6;
  enc.add(r, kBoot);
  enc.flush(kBoot);
  EXPECT_TRUE(sink.datagrams.empty());
  EXPECT_EQ(enc.stats().not_exportable_flows, 1u);
  EXPECT_EQ(enc.stats().not_exportable_packets, 10u);
  EXPECT_EQ(enc.stats().not_exportable_bytes, 5000u);
  EXPECT_EQ(enc.stats().records, 0u);
}

// Reference §4.2: a NAT event as pseudo-records: pre-NAT source, post-NAT destination, no
// traffic, what was translated in nexthop and the AS fields, SYN|ACK for a create and FIN|RST
// for a destroy; one record per translated side.
TEST(Netflow5Encoder, NatEventPseudoRecords) {
  CollectingSink sink;
  Netflow5Encoder enc(v5_config(1), sink);
  NatEvent e;
  e.pre.src = {10, 0, 0, 2};
  e.pre.dst = {203, 0, 113, 5};
  e.pre.src_port = 40002;
  e.pre.dst_port = 8080;
  e.post.src = {198, 51, 100, 1};  // both sides translated (DNAT, then masqueraded)
  e.post.dst = {10, 0, 1, 7};
  e.post.src_port = 61000;
  e.post.dst_port = 80;
  e.protocol = 6;
  e.type = NatEventType::create;
  e.time = kBoot + 4 * kUsPerSecond;
  enc.add_nat_event(e, e.time);
  e.post.dst = e.pre.dst;  // source only
  e.post.dst_port = e.pre.dst_port;
  e.type = NatEventType::destroy;
  enc.add_nat_event(e, e.time);
  enc.flush(e.time);
  ASSERT_EQ(sink.datagrams.size(), 1u);
  const auto& d = sink.datagrams[0];
  ASSERT_EQ(be16(d, 2), 3) << "two records for the first event, one for the second";
  ASSERT_EQ(d.size(), 24u + 3 * 48u);
  struct Want {
    std::uint32_t dst, nexthop;
    std::uint16_t dport, src_as, dst_as;
    std::uint8_t flags;
  };
  const Want want[] = {{0x0a000107u, 0xc6336401u, 80, 61000, 0, 0x12},  // source: post-NAT source
                       {0x0a000107u, 0xcb007105u, 80, 0, 8080, 0x12},   // destination: pre-NAT one
                       {0xcb007105u, 0xc6336401u, 8080, 61000, 0, 0x05}};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t r = 24 + 48 * i;
    EXPECT_EQ(be32(d, r), 0x0a000002u) << i;
    EXPECT_EQ(be32(d, r + 4), want[i].dst) << i;
    EXPECT_EQ(be32(d, r + 8), want[i].nexthop) << i;
    EXPECT_EQ(be32(d, r + 12), 0u) << "no interfaces";
    EXPECT_EQ(be32(d, r + 16), 0u) << "no packets";
    EXPECT_EQ(be32(d, r + 20), 0u) << "no bytes";
    EXPECT_EQ(be32(d, r + 24), 4000u) << "first: the event";
    EXPECT_EQ(be32(d, r + 28), 4000u) << "last: the event";
    EXPECT_EQ(be16(d, r + 32), 40002);
    EXPECT_EQ(be16(d, r + 34), want[i].dport) << i;
    EXPECT_EQ(d[r + 37], want[i].flags) << i;
    EXPECT_EQ(d[r + 38], 6);
    EXPECT_EQ(be16(d, r + 40), want[i].src_as) << i;
    EXPECT_EQ(be16(d, r + 42), want[i].dst_as) << i;
  }
  EXPECT_EQ(enc.stats().nat_events, 2u);
  EXPECT_EQ(enc.stats().records, 3u);
}

}  // namespace
}  // namespace netflowd
