#include "packet/parser.hpp"

#include <gtest/gtest.h>

#include "frame_builder.hpp"

namespace netflowd {
namespace {

using test::FrameBuilder;

ParseStatus parse(const FrameBuilder& b, ParsedPacket& p, LinkType link = LinkType::ethernet) {
  return parse_packet(link, b.bytes(), static_cast<std::uint32_t>(b.size()), p);
}

TEST(Parser, Ipv4TcpPortsFlagsAndOptions) {
  FrameBuilder b;
  // TCP header with 8 bytes of options: MSS (kind 2, len 4), NOP, NOP, SACK-permitted (4, 2).
  b.ethernet(0x0800).ipv4(6, 20 + 28, 0xc0a80001, 0xc0a80002, 0x2e).tcp(1234, 80, 0x12, 7);
  b.raw({2, 4, 5, 0xb4, 1, 1, 4, 2});
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.family, IpFamily::v4);
  EXPECT_EQ(p.protocol, 6);
  EXPECT_EQ(p.tos, 0x2e);
  EXPECT_EQ(p.src_port, 1234);
  EXPECT_EQ(p.dst_port, 80);
  EXPECT_EQ(p.tcp_flags, 0x12);
  EXPECT_EQ(p.tcp_options, (1u << 1) | (1u << 2) | (1u << 4));
  EXPECT_EQ(p.ip_length, 48u);
  EXPECT_EQ(p.src[0], 0xc0);
  EXPECT_EQ(p.src[3], 0x01);
  EXPECT_EQ(p.dst[3], 0x02);
  EXPECT_TRUE(p.has_mac);
  EXPECT_EQ(p.ethertype, 0x0800);
}

TEST(Parser, EthernetPaddingIsNotCounted) {
  FrameBuilder b;
  b.ethernet(0x0800).ipv4(17, 28).udp(53, 5353, 8).zeros(18);  // padded to 60 bytes
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(b.size(), 60u);
  EXPECT_EQ(p.ip_length, 28u);
}

TEST(Parser, Ipv4OptionsAreRecorded) {
  FrameBuilder b;
  b.ethernet(0x0800).ipv4(17, 24 + 8, 1, 2, 0, 0, 6);
  b.raw({0x94, 4, 0, 0});  // router alert (type 148: option number 20)
  b.udp(1, 2, 8);
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.ipv4_options, 1u << 20);
  EXPECT_EQ(p.src_port, 1);
}

TEST(Parser, QinQTagsAreKept) {
  FrameBuilder b;
  b.ethernet(0x88a8).vlan(0x2064, 0x8100).vlan(0x00c8, 0x0800).ipv4(17, 28).udp(1000, 2000, 8);
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.vlan_count, 2);
  EXPECT_EQ(p.vlan_tci[0], 0x2064);
  EXPECT_EQ(p.vlan_tci[1], 0x00c8);
  EXPECT_EQ(p.dst_port, 2000);
}

TEST(Parser, ThirdVlanTagIsRejected) {
  FrameBuilder b;
  b.ethernet(0x88a8).vlan(1, 0x8100).vlan(2, 0x8100).vlan(3, 0x0800).ipv4(17, 28).udp(1, 2, 8);
  ParsedPacket p;
  EXPECT_EQ(parse(b, p), ParseStatus::too_many_vlan_tags);
}

TEST(Parser, MplsStackIsWalkedAndKept) {
  FrameBuilder b;
  b.ethernet(0x8847).u32((100u << 12) | 0x40).u32((200u << 12) | 0x100 | 0x3f);
  b.ipv4(6, 40).tcp(5, 6, 0x02);
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.mpls_count, 2);
  EXPECT_EQ(p.mpls[0] >> 12, 100u);
  EXPECT_EQ(p.mpls[1] >> 12, 200u);
  EXPECT_EQ(p.src_port, 5);
}

TEST(Parser, Ipv4FragmentsKeepPortsOnlyInTheFirst) {
  FrameBuilder first;
  first.ethernet(0x0800).ipv4(17, 1500, 1, 2, 0, 0x2000).udp(7, 8, 2000).zeros(1472);
  ParsedPacket p;
  ASSERT_EQ(parse(first, p), ParseStatus::ok);
  EXPECT_FALSE(p.later_fragment);
  EXPECT_EQ(p.src_port, 7);

  FrameBuilder later;
  later.ethernet(0x0800).ipv4(17, 520, 1, 2, 0, 185).zeros(500);
  ASSERT_EQ(parse(later, p), ParseStatus::ok);
  EXPECT_TRUE(p.later_fragment);
  EXPECT_EQ(p.src_port, 0);
  EXPECT_EQ(p.dst_port, 0);
  EXPECT_EQ(p.ip_length, 520u);
}

TEST(Parser, Ipv6ExtensionChainAndTrafficClass) {
  FrameBuilder b;
  // hop-by-hop (8 bytes) -> fragment (first, more follow) -> UDP
  b.ethernet(0x86dd).ipv6(0, 8 + 8 + 8 + 4, 0xb8, 0x12345);
  b.raw({44, 0, 1, 4, 0, 0, 0, 0});         // HBH: next=fragment, len 0, PadN
  b.raw({17, 0, 0x00, 0x01, 0, 0, 0, 42});  // fragment: offset 0, M=1
  b.udp(4000, 53, 12).zeros(4);
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.family, IpFamily::v6);
  EXPECT_EQ(p.protocol, 17);
  EXPECT_EQ(p.tos, 0xb8);  // the full traffic class
  EXPECT_EQ(p.flow_label, 0x12345u);
  EXPECT_EQ(p.src_port, 4000);  // first fragment keeps its ports
  EXPECT_EQ(p.ipv6_ext, (1u << kExtHop) | (1u << kExtFragFirst));
  EXPECT_EQ(p.ip_length, 40u + 28u);
}

TEST(Parser, Ipv6LaterFragmentHasNoPorts) {
  FrameBuilder b;
  b.ethernet(0x86dd).ipv6(44, 8 + 16).raw({6, 0, 0x05, 0x00, 0, 0, 0, 42}).zeros(16);
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_TRUE(p.later_fragment);
  EXPECT_EQ(p.protocol, 6);
  EXPECT_EQ(p.src_port, 0);
  EXPECT_EQ(p.ipv6_ext, 1u << kExtFragLater);
}

TEST(Parser, IcmpTypeAndCodeGoToDestinationPort) {
  FrameBuilder b;
  b.ethernet(0x0800).ipv4(1, 28).raw({3, 3, 0, 0, 0, 0, 0, 0});
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.src_port, 0);
  EXPECT_EQ(p.dst_port, 3 * 256 + 3);

  FrameBuilder v6;
  v6.ethernet(0x86dd).ipv6(58, 8).raw({128, 0, 0, 0, 0, 1, 0, 1});
  ASSERT_EQ(parse(v6, p), ParseStatus::ok);
  EXPECT_EQ(p.dst_port, 128 * 256);
  EXPECT_EQ(p.icmp_type, 128);
}

TEST(Parser, IpsecSpiIsSplitIntoPorts) {
  FrameBuilder esp;
  esp.ethernet(0x0800).ipv4(50, 28).u32(0xdeadbeef).u32(1);
  ParsedPacket p;
  ASSERT_EQ(parse(esp, p), ParseStatus::ok);
  EXPECT_EQ(p.src_port, 0xdead);
  EXPECT_EQ(p.dst_port, 0xbeef);
  EXPECT_EQ(p.ipsec_spi, 0xdeadbeefu);

  FrameBuilder ah;
  ah.ethernet(0x0800).ipv4(51, 32).raw({6, 1, 0, 0}).u32(0x01020304).u32(0);
  ASSERT_EQ(parse(ah, p), ParseStatus::ok);
  EXPECT_EQ(p.protocol, 51);
  EXPECT_EQ(p.ipsec_spi, 0x01020304u);
}

TEST(Parser, IgmpTypeIsTheDestinationPort) {
  FrameBuilder b;
  b.ethernet(0x0800).ipv4(2, 28).raw({0x16, 0, 0, 0, 224, 0, 0, 1});
  ParsedPacket p;
  ASSERT_EQ(parse(b, p), ParseStatus::ok);
  EXPECT_EQ(p.dst_port, 0x16);
}

TEST(Parser, CookedAndRawLinkTypes) {
  FrameBuilder sll;
  sll.u16(0).u16(1).u16(6).zeros(8).u16(0x0800).ipv4(17, 28).udp(1, 2, 8);
  ParsedPacket p;
  ASSERT_EQ(parse(sll, p, LinkType::linux_sll), ParseStatus::ok);
  EXPECT_EQ(p.dst_port, 2);

  FrameBuilder sll2;
  sll2.u16(0x86dd).u16(0).u32(3).u16(1).u8(0).u8(6).zeros(8).ipv6(17, 8).udp(3, 4, 8);
  ASSERT_EQ(parse(sll2, p, LinkType::linux_sll2), ParseStatus::ok);
  EXPECT_EQ(p.family, IpFamily::v6);
  EXPECT_EQ(p.dst_port, 4);

  FrameBuilder raw;
  raw.ipv4(6, 40).tcp(9, 10, 0x01);
  ASSERT_EQ(parse(raw, p, LinkType::raw_ip), ParseStatus::ok);
  EXPECT_EQ(p.src_port, 9);
  EXPECT_EQ(parse(raw, p, LinkType::ipv6), ParseStatus::bad_ip_version);
}

TEST(Parser, NonIpAndMalformedFramesAreClassified) {
  ParsedPacket p;
  FrameBuilder arp;
  arp.ethernet(0x0806).zeros(28);
  EXPECT_EQ(parse(arp, p), ParseStatus::non_ip);

  FrameBuilder short_ihl;
  short_ihl.ethernet(0x0800).ipv4(17, 28, 1, 2, 0, 0, 4).udp(1, 2, 8);
  EXPECT_EQ(parse(short_ihl, p), ParseStatus::bad_ip_header_length);

  FrameBuilder too_long;
  too_long.ethernet(0x0800).ipv4(17, 200).udp(1, 2, 180);
  EXPECT_EQ(parse(too_long, p), ParseStatus::bad_ip_total_length);

  FrameBuilder cut_tcp;
  cut_tcp.ethernet(0x0800).ipv4(6, 30).zeros(10);
  EXPECT_EQ(parse(cut_tcp, p), ParseStatus::truncated_l4);

  FrameBuilder wrong_version;
  wrong_version.ethernet(0x0800).ipv6(17, 8).udp(1, 2, 8);
  EXPECT_EQ(parse(wrong_version, p), ParseStatus::bad_ip_version);

  FrameBuilder cut_v6;
  cut_v6.ethernet(0x86dd).zeros(20);
  EXPECT_EQ(parse(cut_v6, p), ParseStatus::truncated_ip);
}

TEST(Parser, SnapLengthCutUsesWireLength) {
  FrameBuilder b;
  b.ethernet(0x0800).ipv4(6, 1500).tcp(1, 2, 0x10).zeros(1460);
  ParsedPacket p;
  // Only the first 64 bytes captured, but the frame was 1514 bytes on the wire.
  const auto& bytes = b.bytes();
  ASSERT_EQ(parse_packet(LinkType::ethernet, std::span(bytes).first(64), 1514, p), ParseStatus::ok);
  EXPECT_EQ(p.ip_length, 1500u);
  EXPECT_EQ(p.dst_port, 2);
}

}  // namespace
}  // namespace netflowd
