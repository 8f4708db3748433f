// Structure of v9/IPFIX messages: set layout, template placement and refresh, sequence
// numbers, size limit. Field values are checked against tshark in the integration tests.
#include "export/template/template_encoder.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace netflowd {
namespace {

struct Message {
  std::vector<std::uint8_t> bytes;
  std::uint16_t u16(std::size_t off) const { return static_cast<std::uint16_t>((bytes[off] << 8) | bytes[off + 1]); }
  std::uint32_t u32(std::size_t off) const {
    return (std::uint32_t{bytes[off]} << 24) | (std::uint32_t{bytes[off + 1]} << 16) |
           (std::uint32_t{bytes[off + 2]} << 8) | bytes[off + 3];
  }
};

struct CollectingSink : DatagramSink {
  std::vector<Message> messages;
  void send(std::span<const std::uint8_t> d, const DatagramContents&) override {
    messages.push_back(Message{{d.begin(), d.end()}});
  }
};

struct Set {
  std::uint16_t id;
  std::uint16_t length;
  std::size_t offset;
};

std::vector<Set> sets_of(const Message& m, std::size_t header) {
  std::vector<Set> out;
  for (std::size_t off = header; off + 4 <= m.bytes.size();) {
    const Set s{m.u16(off), m.u16(off + 2), off};
    EXPECT_GE(s.length, 4u);
    EXPECT_EQ(s.length % 4, 0u) << "every set is padded to 4 bytes";
    if (s.length < 4) break;
    out.push_back(s);
    off += s.length;
  }
  return out;
}

constexpr TimeUs kBoot = 1'700'000'000LL * kUsPerSecond;

ExportConfig config(int protocol) {
  ExportConfig c;
  c.protocol = protocol;
  c.engine_id = 77;
  c.boot_time = kBoot;
  c.start_time = kBoot;
  c.refresh_rate = 3;
  c.timeout_rate = 1;
  return c;
}

FlowRecord tcp_v4(std::uint8_t last) {
  FlowRecord r;
  r.key.family = IpFamily::v4;
  r.key.src = {10, 0, 0, last};
  r.key.dst = {10, 0, 1, 1};
  r.key.protocol = 6;
  r.key.src_port = 1000;
  r.key.dst_port = 80;
  r.packets = 3;
  r.bytes = 300;
  r.first = kBoot;
  r.last = kBoot + kUsPerSecond;
  return r;
}

TEST(TemplateEncoder, IpfixTemplateComesBeforeItsData) {
  CollectingSink sink;
  TemplateEncoder enc(Dialect::ipfix, config(10), sink);
  enc.add(tcp_v4(1), kBoot);
  enc.add(tcp_v4(2), kBoot);
  enc.flush(kBoot);
  ASSERT_EQ(sink.messages.size(), 1u);
  const Message& m = sink.messages[0];
  EXPECT_EQ(m.u16(0), 10);
  EXPECT_EQ(m.u16(2), m.bytes.size()) << "IPFIX length is the whole message";
  EXPECT_EQ(m.u32(8), 0u) << "first sequence number";
  EXPECT_EQ(m.u32(12), 77u) << "observation domain = engine_id";
  const auto sets = sets_of(m, 16);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].id, 2) << "template set";
  EXPECT_EQ(m.u16(sets[0].offset + 4), 256) << "first template id";
  EXPECT_EQ(sets[1].id, 256) << "data set uses the template";
  // IPv4 TCP: 16 fields in IPFIX (reference record size 49 with 32-bit counters; netflowd
  // uses 64-bit counters and 32-bit interfaces: 4+4+4+1+2+2+1+4+4+8+8+8+8+1+1+1 = 61).
  EXPECT_EQ(m.u16(sets[0].offset + 6), 16);
  EXPECT_EQ(sets[1].length, 4 + ((2 * 61 + 3) & ~3));
  EXPECT_EQ(enc.stats().records, 2u);
}

TEST(TemplateEncoder, NetflowV9HeaderCountsRecordsAndPackets) {
  CollectingSink sink;
  TemplateEncoder enc(Dialect::netflow9, config(9), sink);
  enc.add(tcp_v4(1), kBoot + 5 * kUsPerSecond);
  enc.flush(kBoot + 5 * kUsPerSecond);
  enc.add(tcp_v4(2), kBoot + 6 * kUsPerSecond);
  enc.flush(kBoot + 6 * kUsPerSecond);
  ASSERT_EQ(sink.messages.size(), 2u);
  const Message& a = sink.messages[0];
  EXPECT_EQ(a.u16(0), 9);
  EXPECT_EQ(a.u16(2), 2) << "one template record + one data record";
  EXPECT_EQ(a.u32(4), 5000u) << "sysUpTime in ms since boot";
  EXPECT_EQ(a.u32(12), 0u) << "v9 sequence counts messages";
  EXPECT_EQ(a.u32(16), 77u);
  const Message& b = sink.messages[1];
  EXPECT_EQ(b.u32(12), 1u);
  EXPECT_EQ(b.u16(2), 1) << "template not repeated within refresh_rate";
}

TEST(TemplateEncoder, TemplateIsRefreshedAfterRefreshRateMessages) {
  CollectingSink sink;
  TemplateEncoder enc(Dialect::ipfix, config(10), sink);  // refresh_rate 3
  for (int i = 0; i < 6; ++i) {
    enc.add(tcp_v4(static_cast<std::uint8_t>(i)), kBoot);
    enc.flush(kBoot);
  }
  std::vector<bool> has_template;
  for (const auto& m : sink.messages) has_template.push_back(sets_of(m, 16).front().id == 2);
  EXPECT_EQ(has_template, (std::vector<bool>{true, false, false, false, true, false}));
}

TEST(TemplateEncoder, PendingSinceIsSetForMessagesWithoutTemplates) {
  // A message that starts with a data set (its template went out earlier) must still report
  // when its first record waited, or the 1-s flush of partly filled messages never fires.
  CollectingSink sink;
  TemplateEncoder enc(Dialect::ipfix, config(10), sink);
  enc.add(tcp_v4(1), kBoot);
  enc.flush(kBoot);
  EXPECT_EQ(enc.pending_since(), -1);
  enc.add(tcp_v4(2), kBoot + 5);
  EXPECT_EQ(enc.pending_since(), kBoot + 5);
}

TEST(TemplateEncoder, IpfixSequenceCountsDataRecords) {
  CollectingSink sink;
  TemplateEncoder enc(Dialect::ipfix, config(10), sink);
  for (int i = 0; i < 3; ++i) enc.add(tcp_v4(static_cast<std::uint8_t>(i)), kBoot);
  enc.flush(kBoot);
  enc.add(tcp_v4(9), kBoot);
  enc.flush(kBoot);
  ASSERT_EQ(sink.messages.size(), 2u);
  EXPECT_EQ(sink.messages[1].u32(8), 3u);
}

TEST(TemplateEncoder, MessagesStayWithinPayloadSize) {
  CollectingSink sink;
  ExportConfig c = config(10);
  c.payload_size = 600;
  TemplateEncoder enc(Dialect::ipfix, c, sink);
  for (int i = 0; i < 200; ++i) {
    FlowRecord r = tcp_v4(static_cast<std::uint8_t>(i));
    if (i % 3 == 0) {
      r.key.family = IpFamily::v6;
      r.key.protocol = 17;
    }
    enc.add(r, kBoot);
  }
  enc.flush(kBoot);
  EXPECT_GT(sink.messages.size(), 10u);
  for (const auto& m : sink.messages) {
    EXPECT_LE(m.bytes.size(), 16u + 600u);
    std::size_t total = 16;
    for (const auto& s : sets_of(m, 16)) total += s.length;
    EXPECT_EQ(total, m.bytes.size()) << "sets fill the message exactly";
  }
  EXPECT_EQ(enc.stats().templates, 2u) << "one template per shape";
}

TEST(TemplateEncoder, IdleTemplatesAreResentByTimer) {
  CollectingSink sink;
  TemplateEncoder enc(Dialect::ipfix, config(10), sink);  // timeout_rate 1 minute
  ExportContext ctx;
  enc.tick(kBoot, ctx);  // options at start
  enc.add(tcp_v4(1), kBoot);
  enc.flush(kBoot);
  const auto data_template_id = static_cast<std::uint16_t>(255 + enc.stats().templates);
  const std::size_t before = sink.messages.size();
  enc.tick(kBoot + 30 * kUsPerSecond, ctx);
  EXPECT_EQ(sink.messages.size(), before) << "nothing due yet";
  enc.tick(kBoot + 61 * kUsPerSecond, ctx);
  ASSERT_GT(sink.messages.size(), before);
  bool data_template_resent = false;
  for (std::size_t i = before; i < sink.messages.size(); ++i) {
    for (const auto& s : sets_of(sink.messages[i], 16)) {
      if (s.id == 2 && sink.messages[i].u16(s.offset + 4) == data_template_id) data_template_resent = true;
    }
  }
  EXPECT_TRUE(data_template_resent);
}

TEST(TemplateEncoder, OptionsAtStartAndStatisticsEveryMinute) {
  CollectingSink sink;
  TemplateEncoder enc(Dialect::netflow9, config(9), sink);
  std::vector<InterfaceInfo> ifs = {{1, "lo", "Loopback"}, {2, "eth0", "uplink"}};
  ExportContext ctx;
  ctx.interfaces = &ifs;
  enc.tick(kBoot, ctx);
  EXPECT_EQ(enc.stats().options_records, 1u + 1u + 2u) << "system init, sampling, two interfaces";
  ASSERT_EQ(sink.messages.size(), 1u) << "options are sent at once";
  ctx.stats.observed_flows = 5;
  enc.tick(kBoot + 60 * kUsPerSecond, ctx);
  EXPECT_EQ(enc.stats().options_records, 5u) << "metering statistics after 60 s";
  ctx.stats.ignored_packets = 1;
  ctx.stats.lost_flows = 1;
  enc.tick(kBoot + 120 * kUsPerSecond, ctx);
  EXPECT_EQ(enc.stats().options_records, 8u) << "plus both reliability records when non-zero";
}

}  // namespace
}  // namespace netflowd

namespace netflowd {
namespace {

// Reference §4.1: the NAT event template (11 fields, 34-byte records), the same in v9 and
// IPFIX, its own id, and records in its field order. tshark decodes the same records from a
// live router in lab.natevents.
TEST(TemplateEncoder, NatEventTemplateAndRecord) {
  for (const Dialect d : {Dialect::ipfix, Dialect::netflow9}) {
    CollectingSink sink;
    TemplateEncoder enc(d, config(d == Dialect::ipfix ? 10 : 9), sink);
    enc.add(tcp_v4(1), kBoot);
    NatEvent e;
    e.pre.src = {10, 0, 0, 2};
    e.pre.dst = {192, 0, 2, 9};
    e.pre.src_port = 40001;
    e.pre.dst_port = 53;
    e.post = e.pre;
    e.post.src = {198, 51, 100, 1};
    e.post.src_port = 61000;
    e.protocol = 17;
    e.type = NatEventType::destroy;
    e.time = kBoot + 1234 * 1000;
    enc.add_nat_event(e, kBoot);
    enc.flush(kBoot);
    ASSERT_EQ(sink.messages.size(), 1u);
    const Message& m = sink.messages[0];
    const std::size_t header = d == Dialect::ipfix ? 16 : 20;
    const auto sets = sets_of(m, header);
    // flow template, flow data, NAT template, NAT data
    ASSERT_EQ(sets.size(), 4u);
    const std::size_t t = sets[2].offset;
    EXPECT_EQ(sets[2].id, d == Dialect::ipfix ? 2 : 0) << "a template set";
    const std::uint16_t nat_id = m.u16(t + 4);
    EXPECT_EQ(nat_id, 257) << "the next id after the flow template's";
    ASSERT_EQ(m.u16(t + 6), 11);
    const std::uint16_t ids[] = {323, 8, 12, 225, 226, 7, 11, 227, 228, 4, 230};
    const std::uint16_t lengths[] = {8, 4, 4, 4, 4, 2, 2, 2, 2, 1, 1};
    for (std::size_t i = 0; i < 11; ++i) {
      EXPECT_EQ(m.u16(t + 8 + 4 * i), ids[i]) << i;
      EXPECT_EQ(m.u16(t + 10 + 4 * i), lengths[i]) << i;
    }
    ASSERT_EQ(sets[3].id, nat_id);
    EXPECT_EQ(sets[3].length, 4 + 36) << "34 bytes, padded to 36";
    const std::size_t r = sets[3].offset + 4;
    EXPECT_EQ((std::uint64_t{m.u32(r)} << 32) | m.u32(r + 4), 1'700'000'001'234ULL) << "ms since the epoch";
    EXPECT_EQ(m.u32(r + 8), 0x0a000002u);
    EXPECT_EQ(m.u32(r + 12), 0xc0000209u);
    EXPECT_EQ(m.u32(r + 16), 0xc6336401u) << "post-NAT source";
    EXPECT_EQ(m.u32(r + 20), 0xc0000209u) << "post-NAT destination";
    EXPECT_EQ(m.u16(r + 24), 40001);
    EXPECT_EQ(m.u16(r + 26), 53);
    EXPECT_EQ(m.u16(r + 28), 61000);
    EXPECT_EQ(m.u16(r + 30), 53);
    EXPECT_EQ(m.bytes[r + 32], 17);
    EXPECT_EQ(m.bytes[r + 33], 2) << "natEvent: delete";
    EXPECT_EQ(enc.stats().records, 2u) << "a NAT event counts as an exported record";
    EXPECT_EQ(enc.stats().nat_events, 1u);
  }
}

}  // namespace
}  // namespace netflowd
