// The vocabulary shared by the generator parts: link types, the synthetic
// flows traffic is drawn from, and the key under which netflowd is expected
// to account each counted packet.
#pragma once

#include "bytes.hpp"

#include <compare>
#include <cstdint>

namespace nfgen {

enum class LinkType : std::uint8_t { en10mb, sll, sll2, raw };

// pcap LINKTYPE_* values written in the file header.
inline std::uint32_t pcap_linktype(LinkType t) {
  switch (t) {
    case LinkType::en10mb: return 1;
    case LinkType::sll: return 113;
    case LinkType::sll2: return 276;
    case LinkType::raw: return 101;
  }
  return 1;
}

namespace ipproto {
inline constexpr std::uint8_t hop_by_hop = 0;
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t fragment = 44;
inline constexpr std::uint8_t gre = 47;
inline constexpr std::uint8_t esp = 50;
inline constexpr std::uint8_t icmpv6 = 58;
inline constexpr std::uint8_t dest_opts = 60;
inline constexpr std::uint8_t sctp = 132;
inline constexpr std::uint8_t udplite = 136;
}  // namespace ipproto

namespace ethertype {
inline constexpr std::uint16_t ipv4 = 0x0800;
inline constexpr std::uint16_t arp = 0x0806;
inline constexpr std::uint16_t vlan = 0x8100;
inline constexpr std::uint16_t ipv6 = 0x86DD;
inline constexpr std::uint16_t qinq = 0x88A8;
}  // namespace ethertype

// Port ranges with no tshark dissector registered on any port inside them
// (`tshark -G decodes`, Wireshark 4.0): random payload sent to a registered
// port is often reported as a malformed packet of that protocol.
namespace ports {
inline constexpr std::uint32_t client_min = 60002;
inline constexpr std::uint32_t client_max = 65535;
inline constexpr std::uint32_t server_min = 41171;
inline constexpr std::uint32_t server_max = 44320;
}  // namespace ports

enum class VlanMode : std::uint8_t { none, dot1q, qinq };
enum class Ipv6Ext : std::uint8_t { none, hop_by_hop, dest_opts };

// How a flow sits on the wire below IP. Not part of the expected key: NetFlow
// v5 cannot carry VLANs, so flows differing only here are summed together.
struct L2Info {
  VlanMode vlan = VlanMode::none;
  std::uint16_t outer_tci = 0;  // the only tag for dot1q
  std::uint16_t inner_tci = 0;
  std::array<std::uint8_t, 6> src_mac{};
  std::array<std::uint8_t, 6> dst_mac{};
};

// One synthetic conversation; packets are drawn from it until packets_left
// reaches zero, then its slot is refilled with a new flow.
struct Flow {
  std::uint8_t family = 4;  // 4 or 6
  Addr src{};
  Addr dst{};
  std::uint8_t proto = 0;
  std::uint16_t sport = 0;  // TCP/UDP/SCTP/UDP-Lite only
  std::uint16_t dport = 0;
  std::uint8_t icmp_type = 0;  // ICMP / ICMPv6 only
  std::uint8_t icmp_code = 0;
  std::uint32_t spi = 0;  // ESP only
  std::uint8_t tos = 0;   // IPv4 TOS or IPv6 traffic class
  std::uint32_t flow_label = 0;
  std::uint8_t ttl = 64;
  bool ipv4_options = false;  // IHL > 5
  Ipv6Ext ipv6_ext = Ipv6Ext::none;
  std::uint16_t fragment_per_mille = 0;  // chance that a datagram is fragmented
  L2Info l2;
  std::uint32_t packets_left = 0;
  std::uint32_t tcp_seq = 0;
  std::uint16_t ip_id = 0;
  std::uint32_t datagrams_sent = 0;
};

// What netflowd must account a counted packet under (see the CSV header).
struct FlowKey {
  std::uint8_t family = 4;
  Addr src{};
  Addr dst{};
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t proto = 0;
  std::uint8_t tos = 0;

  auto operator<=>(const FlowKey&) const = default;
};

}  // namespace nfgen
