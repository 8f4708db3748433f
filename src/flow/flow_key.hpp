// The flow key: the fields that decide which flow a packet belongs to (reference 6.1).
//
// Trivially comparable: 72 bytes, no implicit padding, so equality and hashing work on whole
// words. MAC addresses and MPLS labels are key fields only when their export is enabled
// (upstream's --enable-macaddress / --promisc-mpls); otherwise they stay zero. Output
// interface, next hop, flow label, TCP flags and options are not key fields; they come from
// a flow's packets.
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
  std::uint8_t reserved = 0;                         // keeps the struct free of implicit padding
  std::array<std::uint32_t, kMaxMplsLabels> mpls{};  // full label stack entries, top first
  std::array<std::uint8_t, 6> src_mac{};
  std::array<std::uint8_t, 6> dst_mac{};

  bool operator==(const FlowKey&) const = default;
};
static_assert(sizeof(FlowKey) == 72, "FlowKey must stay compact and padding-free");

// Which optional fields take part in the key.
struct FlowKeyOptions {
  bool mac = false;
  std::uint8_t mpls_labels = 0;  // 0..kMaxMplsLabels
};

FlowKey make_flow_key(const ParsedPacket& packet, std::uint32_t in_ifindex, const FlowKeyOptions& options = {});

// The key as the flow cache stores, hashes and compares it: six 64-bit words for what every
// flow has (addresses, ports, input ifIndex, VLAN tags, protocol, TOS, family), and three more
// for MAC addresses and MPLS labels, which are zero unless they are key fields. The cache
// keeps the three extra words only when MACs or labels are enabled, so a flow's key costs 48
// bytes by default instead of FlowKey's 72.
struct PackedFlowKey {
  std::array<std::uint64_t, 6> core{};
  std::array<std::uint64_t, 3> ext{};  // src MAC, dst MAC (12 bytes), MPLS entries (12 bytes)

  bool operator==(const PackedFlowKey&) const = default;
  bool has_ext() const { return (ext[0] | ext[1] | ext[2]) != 0; }
};

PackedFlowKey pack_flow_key(const ParsedPacket& packet, std::uint32_t in_ifindex, const FlowKeyOptions& options = {});
PackedFlowKey pack_flow_key(const FlowKey& key);
FlowKey unpack_flow_key(const PackedFlowKey& key);

// 64-bit hash of a key (the extra words count only when they are not all zero). Fixed seed:
// results are reproducible run to run.
std::uint64_t hash_flow_key(const PackedFlowKey& key);
inline std::uint64_t hash_flow_key(const FlowKey& key) { return hash_flow_key(pack_flow_key(key)); }

}  // namespace netflowd
