// The parser must never read outside the frame, whatever the bytes. Run under ASan/UBSan in
// the test build, these tests turn an out-of-bounds read into a failure.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "frame_builder.hpp"
#include "packet/parser.hpp"
#include "xorshift.hpp"

namespace netflowd {
namespace {

using test::FrameBuilder;

std::vector<std::vector<std::uint8_t>> seed_frames() {
  std::vector<std::vector<std::uint8_t>> seeds;
  FrameBuilder a;
  a.ethernet(0x88a8).vlan(5, 0x8100).vlan(6, 0x0800).ipv4(6, 56, 1, 2, 0, 0, 6).raw({0x94, 4, 0, 0}).tcp(1, 2, 0x02, 8);
  a.raw({2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 0, 0});
  seeds.push_back(a.bytes());
  FrameBuilder b;
  b.ethernet(0x86dd).ipv6(0, 44).raw({60, 0, 1, 4, 0, 0, 0, 0}).raw({44, 0, 1, 4, 0, 0, 0, 0});
  b.raw({51, 0, 0, 1, 0, 0, 0, 1}).raw({17, 1, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0}).udp(1, 2, 8);
  seeds.push_back(b.bytes());
  FrameBuilder c;
  c.ethernet(0x8847).u32(0x00001040).u32(0x00002140).ipv4(50, 28).u32(7).u32(1);
  seeds.push_back(c.bytes());
  return seeds;
}

TEST(ParserRobustness, EveryPrefixOfValidFramesIsSafe) {
  ParsedPacket p;
  for (const auto& seed : seed_frames()) {
    for (std::size_t len = 0; len <= seed.size(); ++len) {
      // Copy into an exactly sized buffer so ASan sees the end of the frame.
      const std::vector<std::uint8_t> cut(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(len));
      const ParseStatus s = parse_packet(LinkType::ethernet, cut, static_cast<std::uint32_t>(len), p);
      if (len == seed.size()) {
        EXPECT_EQ(s, ParseStatus::ok);
      }
      // As a snap-length cut, where the wire length is the full frame.
      parse_packet(LinkType::ethernet, cut, static_cast<std::uint32_t>(seed.size()), p);
    }
  }
}

TEST(ParserRobustness, RandomMutationsAreSafe) {
  test::XorShift64 next(0x9e3779b97f4a7c15ull);
  ParsedPacket p;
  std::uint64_t ok = 0;
  const auto seeds = seed_frames();
  for (int i = 0; i < 200000; ++i) {
    std::vector<std::uint8_t> frame = seeds[next() % seeds.size()];
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int f = 0; f < flips; ++f) frame[next() % frame.size()] = static_cast<std::uint8_t>(next());
    frame.resize(next() % (frame.size() + 1));
    const auto link = static_cast<LinkType>(next() % 6);
    if (parse_packet(link, frame, static_cast<std::uint32_t>(frame.size() + next() % 3), p) == ParseStatus::ok) ++ok;
  }
  EXPECT_GT(ok, 0u);  // the mutations are not all rejected: parsing really happened
}

}  // namespace
}  // namespace netflowd
