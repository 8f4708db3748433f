// What the parser extracts from one frame: the metering view of a packet.
//
// Plain data, no pointers into the frame, so it can be queued between threads. Fields follow
// the reference (sections 6.3 and 11) with the deliberate differences of netflowd.
#pragma once

#include <array>
#include <cstdint>

#include "common/ip_address.hpp"

namespace netflowd {

inline constexpr std::size_t kMaxVlanTags = 2;
inline constexpr std::size_t kMaxMplsLabels = 3;  // upstream MPLS_DEPTH default

// Bit numbers of ipv6ExtensionHeaders (IE 64) from the table of RFC 5102 section 5.8.x
// (bits 11..31 reserved; headers it does not list, such as Mobility, count as UNK). The
// parser keeps "1 << number"; the encoder maps numbers to the wire layout.
enum Ipv6ExtBit : std::uint8_t {
  kExtDst = 0,
  kExtHop = 1,
  kExtUnknown = 3,
  kExtFragFirst = 4,
  kExtRouting = 5,
  kExtFragLater = 6,
  kExtPayloadCompression = 8,  // IPComp
  kExtAh = 9,
  kExtEsp = 10,
};

struct ParsedPacket {
  IpFamily family = IpFamily::none;
  std::uint8_t protocol = 0;
  // IPv4 TOS byte, or the full IPv6 traffic class (a deliberate difference from upstream).
  std::uint8_t tos = 0;
  // True when the L4 header is not in this packet (a non-first fragment): ports stay 0.
  bool later_fragment = false;
  // Ports in host order. ICMP/ICMPv6: src 0, dst = type << 8 | code. IGMP: dst = type.
  // AH (IPv4) / ESP: src = SPI >> 16, dst = SPI & 0xffff, so the SPI is part of the key.
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::array<std::uint8_t, 16> src{};  // IPv4 in the first 4 bytes
  std::array<std::uint8_t, 16> dst{};
  // Bytes this packet adds to its flow: IPv4 total length, IPv6 payload length + 40.
  std::uint32_t ip_length = 0;

  std::uint8_t tcp_flags = 0;      // TCP header byte 13 (CWR..FIN)
  std::uint64_t tcp_options = 0;   // bit k set when option kind k (< 64) is present
  std::uint32_t ipv4_options = 0;  // bit n set for IPv4 option number n (type & 0x1f)
  std::uint32_t ipv6_ext = 0;      // Ipv6ExtBit positions
  std::uint32_t flow_label = 0;    // 20-bit IPv6 flow label
  std::uint32_t ipsec_spi = 0;     // AH or ESP SPI (host order), 0 if none
  // Prefix lengths the addresses were cut to by an aggregation rule (0: not aggregated).
  std::uint8_t src_prefix = 0;
  std::uint8_t dst_prefix = 0;
  std::uint8_t icmp_type = 0;
  std::uint8_t icmp_code = 0;

  // Link layer, when the link type has it.
  std::uint16_t ethertype = 0;  // L3 EtherType after VLAN tags (0x0800 / 0x86DD)
  std::uint8_t vlan_count = 0;
  std::array<std::uint16_t, kMaxVlanTags> vlan_tci{};  // full TCI, outer first
  std::uint8_t mpls_count = 0;                         // label stack entries stored (the stack may be deeper)
  std::array<std::uint32_t, kMaxMplsLabels> mpls{};    // full 32-bit entries, top first
  bool has_mac = false;
  std::array<std::uint8_t, 6> src_mac{};
  std::array<std::uint8_t, 6> dst_mac{};
};

}  // namespace netflowd
