// The flow key: the fields that decide which flow a packet belongs to (reference 6.1).
//
// Compact and trivially comparable: 48 bytes, no implicit padding, so equality and hashing
// can work on whole words. Output interface, next hop, flow label, TCP flags and options are
// not key fields; they come from a flow's packets.
#pragma once

#include <array>
#include <cstdint>

#include "common/ip_address.hpp"
#include "packet/packet_meta.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd {

struct FlowKey {
  std::array<std::uint8_t, 16> src{};  // IPv4 in the first 4 bytes, rest zero
  std::array<std::uint8_t, 16> dst{};
  std::uint16_t src_port = 0;  // host order; see ParsedPacket for ICMP/IGMP/IPsec meaning
  std::uint16_t dst_port = 0;
  std::uint32_t in_ifindex = kNoInterface;
  std::array<std::uint16_t, kMaxVlanTags> vlan{};  // full TCI, 0 = no tag
  std::uint8_t protocol = 0;
  std::uint8_t tos = 0;
  IpFamily family = IpFamily::none;
  std::uint8_t reserved = 0;  // keeps the struct free of implicit padding

  bool operator==(const FlowKey&) const = default;
};
static_assert(sizeof(FlowKey) == 48, "FlowKey must stay compact and padding-free");

FlowKey make_flow_key(const ParsedPacket& packet, std::uint32_t in_ifindex);

// 64-bit hash of the whole key. Fixed seed: results are reproducible run to run.
std::uint64_t hash_flow_key(const FlowKey& key);

}  // namespace netflowd
