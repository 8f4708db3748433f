// fast_meter_input() must give exactly what the general path gives (parse_packet,
// apply_capture_meta, make_meter_input) for every frame it accepts, accept the common frames,
// and never read outside the frame (ASan in the test build).
#include "flow/fast_input.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "frame_builder.hpp"
#include "packet/apply_meta.hpp"
#include "packet/parser.hpp"
#include "xorshift.hpp"

namespace netflowd {
namespace {

using test::FrameBuilder;

struct Case {
  LinkType link;
  std::vector<std::uint8_t> bytes;
  bool common;  // a frame the fast path is meant to take
};

// Ethernet with no, one or two tags; IPv4 with and without options, fragments; IPv6 with and
// without extension headers; TCP with and without options, UDP, UDP-Lite, ICMP of either
// family (and in the other), SCTP, GRE; raw IP links.
std::vector<Case> seed_cases() {
  std::vector<Case> cases;
  const std::vector<std::uint8_t> tcp_options = {2, 4, 5, 0xb4, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 4, 2, 1, 0};
  for (int tags = 0; tags <= 2; ++tags) {
    auto l2 = [&](FrameBuilder& b, std::uint16_t type) {
      if (tags == 0) b.ethernet(type);
      if (tags == 1) b.ethernet(0x8100).vlan(0x2064, type);
      if (tags == 2) b.ethernet(0x88a8).vlan(5, 0x8100).vlan(6, type);
    };
    const bool common = true;  // up to two tags in the frame, as the parser keeps
    {
      FrameBuilder b;
      l2(b, 0x0800);
      b.ipv4(6, 40 + 20, 0x0a4e0105, 0xc0a80001, 0xb8).tcp(443, 51000, 0x12, 10);
      for (std::uint8_t o : tcp_options) b.u8(o);
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;
      l2(b, 0x0800);
      b.ipv4(17, 28 + 6, 0x01020304, 0x05060708).udp(53, 1234, 14).raw({1, 2, 3, 4, 5, 6});
      b.zeros(8);  // Ethernet padding, never counted
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;
      l2(b, 0x86dd);
      b.ipv6(6, 20, 0x2e, 0xabcde).tcp(22, 60000, 0x18);
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;
      l2(b, 0x86dd);
      b.ipv6(17, 8 + 3).udp(4500, 4500, 11).raw({9, 9, 9});
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;  // IPv4 options
      l2(b, 0x0800);
      b.ipv4(6, 24 + 20, 1, 2, 0, 0, 6).raw({0x94, 4, 0, 0}).tcp(1, 2, 0x02);
      cases.push_back({LinkType::ethernet, b.bytes(), false});
    }
    {
      FrameBuilder b;  // a later fragment
      l2(b, 0x0800);
      b.ipv4(17, 20 + 8, 1, 2, 0, 0x0010).raw({0, 1, 2, 3, 4, 5, 6, 7});
      cases.push_back({LinkType::ethernet, b.bytes(), false});
    }
    {
      FrameBuilder b;  // ICMP: type and code as the destination port
      l2(b, 0x0800);
      b.ipv4(1, 20 + 8, 1, 2).raw({8, 0, 0, 0, 0, 1, 0, 1});
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;  // ICMPv6
      l2(b, 0x86dd);
      b.ipv6(58, 8).raw({128, 0, 0, 0, 0, 7, 0, 1});
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;  // ICMPv6's number in IPv4 and ICMP's in IPv6: just protocols, no ports
      l2(b, 0x0800);
      b.ipv4(58, 20 + 8, 1, 2).raw({128, 0, 0, 0, 0, 7, 0, 1});
      cases.push_back({LinkType::ethernet, b.bytes(), false});
      FrameBuilder c;
      l2(c, 0x86dd);
      c.ipv6(1, 8).raw({8, 0, 0, 0, 0, 1, 0, 1});
      cases.push_back({LinkType::ethernet, c.bytes(), false});
    }
    {
      FrameBuilder b;  // UDP-Lite
      l2(b, 0x0800);
      b.ipv4(136, 20 + 8 + 4, 3, 4).udp(5000, 5001, 8).raw({1, 2, 3, 4});
      cases.push_back({LinkType::ethernet, b.bytes(), common});
    }
    {
      FrameBuilder b;  // IPv6 with a destination-options header before UDP
      l2(b, 0x86dd);
      b.ipv6(60, 8 + 8).raw({17, 0, 1, 4, 0, 0, 0, 0}).udp(1, 2, 8);
      cases.push_back({LinkType::ethernet, b.bytes(), false});
    }
  }
  {
    FrameBuilder b;  // MPLS
    b.ethernet(0x8847).u32(0x00001140).ipv4(17, 28, 1, 2).udp(1, 2, 8);
    cases.push_back({LinkType::ethernet, b.bytes(), false});
  }
  {
    FrameBuilder b;  // SCTP
    b.ethernet(0x0800).ipv4(132, 32, 1, 2).u16(1).u16(2).zeros(8);
    cases.push_back({LinkType::ethernet, b.bytes(), true});
  }
  {
    FrameBuilder b;  // GRE: no ports, the general way
    b.ethernet(0x0800).ipv4(47, 28, 1, 2).zeros(8);
    cases.push_back({LinkType::ethernet, b.bytes(), false});
  }
  for (LinkType link : {LinkType::raw_ip, LinkType::ipv4}) {
    FrameBuilder b;
    b.ipv4(6, 40, 0x0a000001, 0x0a000002, 0x10).tcp(1000, 80, 0x10);
    cases.push_back({link, b.bytes(), true});
  }
  for (LinkType link : {LinkType::raw_ip, LinkType::ipv6}) {
    FrameBuilder b;
    b.ipv6(17, 8).udp(5353, 5353, 8);
    cases.push_back({link, b.bytes(), true});
  }
  {
    FrameBuilder b;  // cooked captures always take the general path
    b.raw({0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}).u16(0x0800).ipv4(17, 28, 1, 2).udp(1, 2, 8);
    cases.push_back({LinkType::linux_sll, b.bytes(), false});
  }
  return cases;
}

std::vector<PacketMeta> metas() {
  PacketMeta plain;
  plain.timestamp = 1'700'000'000'000'000;
  PacketMeta live = plain;
  live.in_ifindex = 3;
  live.out_ifindex = 4;
  live.phys_in_ifindex = 5;
  live.phys_out_ifindex = 6;
  live.direction = FlowDirection::egress;
  PacketMeta stripped = live;
  stripped.has_stripped_vlan = true;
  stripped.stripped_vlan_tci = 0x0123;
  stripped.has_mac = true;
  stripped.src_mac = {2, 1, 1, 1, 1, 1};
  return {plain, live, stripped};
}

// What the general path makes of the frame; false when it does not meter it.
bool general_input(LinkType link, const std::vector<std::uint8_t>& frame, std::uint32_t wire, const PacketMeta& meta,
                   MeterInput& in) {
  ParsedPacket p;
  if (parse_packet(link, frame, wire, p) != ParseStatus::ok) return false;
  apply_capture_meta(meta, p);
  make_meter_input(p, meta, FlowKeyOptions{}, in);
  return true;
}

void expect_same(const MeterInput& fast, const MeterInput& general, const char* what) {
  EXPECT_EQ(fast.key, general.key) << what;
  EXPECT_EQ(fast.hash, general.hash) << what;
  EXPECT_EQ(fast.timestamp, general.timestamp) << what;
  EXPECT_EQ(fast.tcp_options, general.tcp_options) << what;
  EXPECT_EQ(fast.ip_length, general.ip_length) << what;
  EXPECT_EQ(fast.l3_options, general.l3_options) << what;
  EXPECT_EQ(fast.out_ifindex, general.out_ifindex) << what;
  EXPECT_EQ(fast.flow_label, general.flow_label) << what;
  EXPECT_EQ(fast.ipsec_spi, general.ipsec_spi) << what;
  EXPECT_EQ(fast.phys_in_ifindex, general.phys_in_ifindex) << what;
  EXPECT_EQ(fast.phys_out_ifindex, general.phys_out_ifindex) << what;
  EXPECT_EQ(fast.tcp_flags, general.tcp_flags) << what;
  EXPECT_EQ(fast.direction, general.direction) << what;
  EXPECT_EQ(fast.src_prefix, general.src_prefix) << what;
  EXPECT_EQ(fast.dst_prefix, general.dst_prefix) << what;
  // Nothing left over from an earlier packet either.
  EXPECT_EQ(std::memcmp(&fast, &general, sizeof fast), 0) << what;
}

// A MeterInput full of garbage, as a reused pipeline slot is.
MeterInput dirty_input() {
  MeterInput in;
  std::memset(static_cast<void*>(&in), 0xa5, sizeof in);
  return in;
}

TEST(FastInput, TakesTheCommonFramesAndMatchesTheGeneralPath) {
  for (const Case& c : seed_cases()) {
    for (const PacketMeta& meta : metas()) {
      const auto wire = static_cast<std::uint32_t>(c.bytes.size());
      MeterInput fast = dirty_input();
      MeterInput general;
      const bool took = fast_meter_input(c.link, c.bytes, wire, meta, fast);
      EXPECT_EQ(took, c.common) << "case of " << c.bytes.size() << " bytes, link " << static_cast<int>(c.link);
      ASSERT_TRUE(general_input(c.link, c.bytes, wire, meta, general));
      if (took) expect_same(fast, general, "seed");
    }
  }
}

// Cut captures (snap length), short wire lengths and random byte changes: whatever the fast
// path accepts, the general path meters identically.
TEST(FastInput, MutatedFramesAreTakenOnlyWhenTheGeneralPathAgrees) {
  test::XorShift64 next(0x2545f4914f6cdd1dull);
  const auto cases = seed_cases();
  const auto meta_list = metas();
  std::uint64_t taken = 0, declined = 0;
  for (int i = 0; i < 300000; ++i) {
    const Case& c = cases[next() % cases.size()];
    std::vector<std::uint8_t> frame = c.bytes;
    auto wire = static_cast<std::uint32_t>(frame.size());
    const int changes = static_cast<int>(next() % 4);
    for (int k = 0; k < changes; ++k) {
      // Mostly in the headers, where the decisions are.
      frame[next() % std::min<std::size_t>(frame.size(), 70)] = static_cast<std::uint8_t>(next());
    }
    switch (next() % 4) {
      case 0: frame.resize(next() % (frame.size() + 1)); break;  // cut by a snap length
      case 1: wire = static_cast<std::uint32_t>(next() % (wire + 1)); break;
      default: break;
    }
    frame.shrink_to_fit();  // so that ASan sees the end of the frame
    const PacketMeta& meta = meta_list[next() % meta_list.size()];
    MeterInput fast = dirty_input();
    if (!fast_meter_input(c.link, frame, wire, meta, fast)) {
      ++declined;
      continue;
    }
    ++taken;
    MeterInput general;
    ASSERT_TRUE(general_input(c.link, frame, wire, meta, general)) << "frame " << i << " taken but not parsed";
    expect_same(fast, general, "mutated");
    if (HasFailure()) break;
  }
  // Both outcomes were exercised.
  EXPECT_GT(taken, 30000u);
  EXPECT_GT(declined, 30000u);
}

TEST(FastInput, AppliesOnlyToTheDefaultKey) {
  EXPECT_TRUE(fast_input_applies(FlowKeyOptions{}, false));
  EXPECT_FALSE(fast_input_applies(FlowKeyOptions{}, true));
  EXPECT_FALSE(fast_input_applies(FlowKeyOptions{.mac = true}, false));
  EXPECT_FALSE(fast_input_applies(FlowKeyOptions{.mpls_labels = 1}, false));
}

}  // namespace
}  // namespace netflowd
