// PacketMeta::reset() must restore every member's default: the capture sources call it for
// every frame instead of assigning PacketMeta{}.
#include "packet/packet_meta.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace netflowd {
namespace {

TEST(PacketMeta, ResetRestoresEveryDefault) {
  PacketMeta m;
  // Every byte, members and padding, set: a member reset() forgets keeps a non-default value.
  std::memset(static_cast<void*>(&m), 0xa5, sizeof m);
  m.reset(12345);
  PacketMeta expected;
  expected.timestamp = 12345;
  EXPECT_EQ(m, expected);
  EXPECT_EQ(m.in_ifindex, kNoInterface);
  EXPECT_FALSE(m.has_mac);
}

TEST(PacketMeta, EqualityComparesEveryMember) {
  // So that the test above would see a forgotten member.
  PacketMeta a, b;
  EXPECT_EQ(a, b);
  b.dst_mac[5] = 1;
  EXPECT_NE(a, b);
  b = PacketMeta{};
  b.stripped_vlan_tci = 7;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace netflowd
