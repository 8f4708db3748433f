// Link layer: Ethernet, Linux cooked headers, 802.1Q/802.1ad tags and MPLS label stacks.
#include "packet/parse_internal.hpp"
#include "packet/parser.hpp"

#include <algorithm>
#include <cstring>

namespace netflowd {
namespace parse_detail {
namespace {

// Deeper stacks are not plausible on a router and would only cost time on garbage.
constexpr std::size_t kMplsStackLimit = 16;

ParseStatus dispatch_l3(const Frame& f, std::size_t offset, std::uint16_t ethertype, ParsedPacket& out) {
  out.ethertype = ethertype;
  if (ethertype == kEtherIpv4) return parse_ipv4(f, offset, out);
  return parse_ipv6(f, offset, out);
}

// Raw IP: the version nibble chooses the family.
ParseStatus parse_raw(const Frame& f, std::size_t offset, ParsedPacket& out) {
  if (!f.has(offset, 1)) return ParseStatus::truncated_ip;
  switch (f.u8(offset) >> 4) {
    case 4: return dispatch_l3(f, offset, kEtherIpv4, out);
    case 6: return dispatch_l3(f, offset, kEtherIpv6, out);
    default: return ParseStatus::bad_ip_version;
  }
}

}  // namespace

ParseStatus parse_ethertype_chain(const Frame& f, std::size_t offset, std::uint16_t ethertype, ParsedPacket& out,
                                  std::size_t& l3_offset) {
  while (is_vlan_ethertype(ethertype)) {
    if (!f.has(offset, 4)) return ParseStatus::truncated_l2;
    if (out.vlan_count == kMaxVlanTags) return ParseStatus::too_many_vlan_tags;
    out.vlan_tci[out.vlan_count++] = f.u16(offset);
    ethertype = f.u16(offset + 2);
    offset += 4;
  }
  if (ethertype == kEtherMplsUnicast || ethertype == kEtherMplsMulticast) {
    // Label stack entries until the bottom-of-stack bit; the top kMaxMplsLabels are kept.
    for (std::size_t depth = 0;; ++depth) {
      if (depth == kMplsStackLimit) return ParseStatus::too_many_mpls_labels;
      if (!f.has(offset, 4)) return ParseStatus::truncated_l2;
      const std::uint32_t entry = f.u32(offset);
      if (out.mpls_count < kMaxMplsLabels) out.mpls[out.mpls_count++] = entry;
      offset += 4;
      if (entry & 0x100) break;  // S bit
    }
    // No EtherType after the stack: the payload is told by its first nibble.
    if (!f.has(offset, 1)) return ParseStatus::truncated_ip;
    const unsigned version = f.u8(offset) >> 4;
    if (version == 4) {
      ethertype = kEtherIpv4;
    } else if (version == 6) {
      ethertype = kEtherIpv6;
    } else {
      return ParseStatus::non_ip;  // pseudowire or other non-IP payload
    }
  }
  if (ethertype != kEtherIpv4 && ethertype != kEtherIpv6) return ParseStatus::non_ip;
  out.ethertype = ethertype;
  l3_offset = offset;
  return ParseStatus::ok;
}

}  // namespace parse_detail

ParseStatus parse_packet(LinkType link, std::span<const std::uint8_t> frame, std::uint32_t wire_length,
                         ParsedPacket& out) {
  using namespace parse_detail;
  out = ParsedPacket{};
  const Frame f{frame.data(), frame.size(), std::max<std::size_t>(wire_length, frame.size())};

  std::size_t offset = 0;
  std::uint16_t ethertype = 0;
  switch (link) {
    case LinkType::raw_ip: return parse_raw(f, 0, out);
    case LinkType::ipv4: return dispatch_l3(f, 0, kEtherIpv4, out);
    case LinkType::ipv6: return dispatch_l3(f, 0, kEtherIpv6, out);
    case LinkType::ethernet:
      if (!f.has(0, 14)) return ParseStatus::truncated_l2;
      std::memcpy(out.dst_mac.data(), f.data, 6);
      std::memcpy(out.src_mac.data(), f.data + 6, 6);
      out.has_mac = true;
      ethertype = f.u16(12);
      offset = 14;
      break;
    case LinkType::linux_sll:
      // packet type(2) ARPHRD(2) address length(2) address(8) protocol(2)
      if (!f.has(0, 16)) return ParseStatus::truncated_l2;
      ethertype = f.u16(14);
      offset = 16;
      break;
    case LinkType::linux_sll2:
      // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) address length(1) address(8)
      if (!f.has(0, 20)) return ParseStatus::truncated_l2;
      ethertype = f.u16(0);
      offset = 20;
      break;
  }
  std::size_t l3 = 0;
  const ParseStatus s = parse_ethertype_chain(f, offset, ethertype, out, l3);
  if (s != ParseStatus::ok) return s;
  return dispatch_l3(f, l3, out.ethertype, out);
}

}  // namespace netflowd
