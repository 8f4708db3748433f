// The own-export filter gives the same answer for a parsed packet and for its metering form
// (the live workers use the latter for frames that skip the general parser).
#include "pipeline/own_export_filter.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "flow/flow_key.hpp"

namespace netflowd {
namespace {

ParsedPacket udp(IpFamily family, std::uint8_t last_dst_byte, std::uint16_t src_port, std::uint16_t dst_port) {
  ParsedPacket p;
  p.family = family;
  p.protocol = 17;
  if (family == IpFamily::v4) {
    p.dst = {127, 0, 0, last_dst_byte};
  } else {
    p.dst[15] = last_dst_byte;  // ::1 style
  }
  p.src_port = src_port;
  p.dst_port = dst_port;
  return p;
}

TEST(OwnExportFilter, ParsedPacketAndKeyGiveTheSameAnswer) {
  IpAddress v4{};
  v4.family = IpFamily::v4;
  v4.bytes = {127, 0, 0, 1};
  IpAddress v6{};
  v6.family = IpFamily::v6;
  v6.bytes[15] = 1;
  const std::vector<OwnExportFilter::Target> targets = {{v4, 2055, 40000}, {v6, 4739, 40001}};

  struct Probe {
    ParsedPacket packet;
    bool own;
  };
  std::vector<Probe> probes = {
      {udp(IpFamily::v4, 1, 40000, 2055), true},  {udp(IpFamily::v4, 2, 40000, 2055), false},
      {udp(IpFamily::v4, 1, 40001, 2055), false}, {udp(IpFamily::v4, 1, 40000, 2056), false},
      {udp(IpFamily::v6, 1, 40001, 4739), true},  {udp(IpFamily::v6, 1, 40000, 4739), false},
      {udp(IpFamily::v6, 2, 40001, 4739), false}, {udp(IpFamily::v4, 1, 40001, 4739), false},
  };
  ParsedPacket tcp = udp(IpFamily::v4, 1, 40000, 2055);
  tcp.protocol = 6;
  probes.push_back({tcp, false});
  for (const Probe& p : probes) {
    EXPECT_EQ(OwnExportFilter::matches(targets, p.packet), p.own);
    EXPECT_EQ(OwnExportFilter::matches(targets, pack_flow_key(p.packet, 7)), p.own);
  }
}

}  // namespace
}  // namespace netflowd
