// Pieces of the parser shared between its translation units, and with the fast path for common
// frames (flow/fast_input.cpp), which must read frames exactly as the parser does. Not part of
// the module's API otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/parse_status.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd::parse_detail {

// A bounds-aware view of the frame. `captured` bytes are readable; `wire` is how long the
// frame really was. Every read is preceded by has().
struct Frame {
  const std::uint8_t* data;
  std::size_t captured;
  std::size_t wire;

  bool has(std::size_t offset, std::size_t n) const { return offset <= captured && n <= captured - offset; }
  std::uint8_t u8(std::size_t off) const { return data[off]; }
  std::uint16_t u16(std::size_t off) const { return static_cast<std::uint16_t>((data[off] << 8) | data[off + 1]); }
  std::uint32_t u32(std::size_t off) const {
    return (std::uint32_t{data[off]} << 24) | (std::uint32_t{data[off + 1]} << 16) |
           (std::uint32_t{data[off + 2]} << 8) | data[off + 3];
  }
};

inline constexpr std::uint16_t kEtherIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherIpv6 = 0x86DD;
inline constexpr std::uint16_t kEther8021Q = 0x8100;
inline constexpr std::uint16_t kEther8021AD = 0x88A8;
inline constexpr std::uint16_t kEtherQinQOld = 0x9100;
inline constexpr std::uint16_t kEtherMplsUnicast = 0x8847;
inline constexpr std::uint16_t kEtherMplsMulticast = 0x8848;

// IP protocol numbers the parser cares about.
inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoIgmp = 2;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIpv6Hop = 0;
inline constexpr std::uint8_t kProtoIpv6Route = 43;
inline constexpr std::uint8_t kProtoIpv6Frag = 44;
inline constexpr std::uint8_t kProtoEsp = 50;
inline constexpr std::uint8_t kProtoAh = 51;
inline constexpr std::uint8_t kProtoIcmpv6 = 58;
inline constexpr std::uint8_t kProtoIpv6Dst = 60;
inline constexpr std::uint8_t kProtoSctp = 132;
inline constexpr std::uint8_t kProtoUdpLite = 136;

// 802.1ad (S-tag) / 802.1Q (C-tag) and the legacy 0x9100 QinQ type.
inline bool is_vlan_ethertype(std::uint16_t type) {
  return type == kEther8021Q || type == kEther8021AD || type == kEtherQinQOld;
}
// ICMP counts as such only inside its own family (ICMP in IPv6, ICMPv6 in IPv4, is just a
// protocol); its type and code then stand in the destination port.
inline bool is_icmp_of_family(std::uint8_t protocol, IpFamily family) {
  return (protocol == kProtoIcmp && family == IpFamily::v4) || (protocol == kProtoIcmpv6 && family == IpFamily::v6);
}
inline std::uint16_t icmp_port(std::uint8_t type, std::uint8_t code) {
  return static_cast<std::uint16_t>(type << 8 | code);
}

// Walks an IPv4 or TCP option list (the same type-length-value layout, RFC 791 / RFC 9293):
// calls on_type(type) for every option, the terminating end-of-list (0) included; no-op (1)
// is one byte; a length below 2 or running past `end` stops the walk.
template <typename OnType>
void walk_options(const Frame& f, std::size_t begin, std::size_t end, OnType on_type) {
  std::size_t i = begin;
  while (i < end) {
    const std::uint8_t type = f.u8(i);
    on_type(type);
    if (type == 0) break;
    if (type == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= end) break;
    const std::uint8_t len = f.u8(i + 1);
    if (len < 2) break;
    i += len;
  }
}

// Walks Ethernet / VLAN / MPLS from `offset` with the given EtherType already read.
// On ok, `l3_offset` is where the IP header starts and out.ethertype says which.
ParseStatus parse_ethertype_chain(const Frame& f, std::size_t offset, std::uint16_t ethertype, ParsedPacket& out,
                                  std::size_t& l3_offset);

ParseStatus parse_ipv4(const Frame& f, std::size_t offset, ParsedPacket& out);
ParseStatus parse_ipv6(const Frame& f, std::size_t offset, ParsedPacket& out);

// Transport header at `offset`; `end` bounds it (end of the IP datagram or of the capture).
ParseStatus parse_l4(const Frame& f, std::size_t offset, std::size_t end, ParsedPacket& out);

}  // namespace netflowd::parse_detail
