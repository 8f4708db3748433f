#include "flow/fast_input.hpp"

#include "packet/parse_internal.hpp"

#include <algorithm>
#include <cstring>

namespace netflowd {

namespace {

using parse_detail::Frame;

// The transport header at `l4`, `avail` bytes of the datagram captured from there on, as
// parse_l4 reads it: TCP, UDP and UDP-Lite, SCTP, and ICMP of the packet's own family (the
// type and code as the destination port). Anything else goes the general way.
bool transport(const Frame& f, std::size_t l4, std::size_t avail, std::uint8_t protocol, IpFamily family,
               MeterInput& in, std::uint16_t& src_port, std::uint16_t& dst_port) {
  in.tcp_flags = 0;
  in.tcp_options = 0;
  switch (protocol) {
    case parse_detail::kProtoTcp: {
      if (avail < 20) return false;
      in.tcp_flags = f.u8(l4 + 13);
      const std::size_t header_len = std::size_t{f.u8(l4 + 12)} / 16 * 4;
      std::uint64_t options = 0;
      if (header_len > 20) {
        parse_detail::walk_options(f, l4 + 20, l4 + std::min(header_len, avail), [&options](std::uint8_t kind) {
          if (kind < 64) options |= std::uint64_t{1} << kind;
        });
      }
      in.tcp_options = options;
      break;
    }
    case parse_detail::kProtoUdp:
    case parse_detail::kProtoUdpLite:
      if (avail < 8) return false;
      break;
    case parse_detail::kProtoSctp:
      if (avail < 12) return false;
      break;
    case parse_detail::kProtoIcmp:
    case parse_detail::kProtoIcmpv6:
      if (!parse_detail::is_icmp_of_family(protocol, family) || avail < 4) return false;
      src_port = 0;
      dst_port = parse_detail::icmp_port(f.u8(l4), f.u8(l4 + 1));
      return true;
    default: return false;
  }
  src_port = f.u16(l4);
  dst_port = f.u16(l4 + 2);
  return true;
}

}  // namespace

bool fast_meter_input(LinkType link, std::span<const std::uint8_t> frame, std::uint32_t wire_length,
                      const PacketMeta& meta, MeterInput& in) {
  using namespace parse_detail;
  const Frame f{frame.data(), frame.size(), std::max<std::size_t>(wire_length, frame.size())};

  // Link layer: where the IP header starts, its version, and the in-frame VLAN tags (two at
  // most, as the parser keeps).
  std::size_t off = 0;
  unsigned version = 0;
  std::uint16_t outer_tag = 0;
  std::uint16_t inner_tag = 0;
  switch (link) {
    case LinkType::ethernet: {
      if (!f.has(0, 14)) return false;
      std::uint16_t type = f.u16(12);
      off = 14;
      if (is_vlan_ethertype(type)) {
        if (!f.has(14, 4)) return false;
        outer_tag = f.u16(14);
        type = f.u16(16);
        off = 18;
        if (is_vlan_ethertype(type)) {
          if (!f.has(18, 4)) return false;
          inner_tag = f.u16(18);
          type = f.u16(20);
          off = 22;
        }
      }
      if (type == kEtherIpv4) {
        version = 4;
      } else if (type == kEtherIpv6) {
        version = 6;
      } else {
        return false;  // a third tag, MPLS, or not IP
      }
      break;
    }
    case LinkType::raw_ip:
      if (!f.has(0, 1)) return false;
      version = f.u8(0) >> 4;
      break;
    case LinkType::ipv4: version = 4; break;
    case LinkType::ipv6: version = 6; break;
    default: return false;
  }
  // A tag removed before capture is the outer one, and the innermost in the frame then goes
  // (apply_capture_meta).
  const std::array<std::uint16_t, kMaxVlanTags> vlan =
      meta.has_stripped_vlan ? std::array<std::uint16_t, kMaxVlanTags>{meta.stripped_vlan_tci, outer_tag}
                             : std::array<std::uint16_t, kMaxVlanTags>{outer_tag, inner_tag};

  PackedFlowKey& k = in.key;
  std::uint8_t protocol = 0;
  std::uint8_t tos = 0;
  std::size_t l4 = 0;
  std::size_t end = 0;
  IpFamily family;
  if (version == 4) {
    // No options (IHL 5), not a later fragment, the length within the wire frame.
    if (!f.has(off, 20) || f.u8(off) != 0x45) return false;
    const std::size_t total_len = f.u16(off + 2);
    if (total_len < 20 || total_len > f.wire - off || (f.u16(off + 6) & 0x1fff) != 0) return false;
    family = IpFamily::v4;
    tos = f.u8(off + 1);
    protocol = f.u8(off + 9);
    k.core[0] = flow_key_detail::ipv4_word(f.data + off + 12);
    k.core[1] = 0;
    k.core[2] = flow_key_detail::ipv4_word(f.data + off + 16);
    k.core[3] = 0;
    in.ip_length = static_cast<std::uint32_t>(total_len);
    in.flow_label = 0;
    l4 = off + 20;
    end = std::min(off + total_len, f.captured);
  } else if (version == 6) {
    // TCP or UDP right after the fixed header (no extension headers, so no jumbogram).
    if (!f.has(off, 40)) return false;
    const std::uint32_t first_word = f.u32(off);
    if ((first_word >> 28) != 6) return false;
    const std::size_t total_len = std::size_t{f.u16(off + 4)} + 40;
    if (total_len > f.wire - off) return false;
    family = IpFamily::v6;
    tos = static_cast<std::uint8_t>(first_word >> 20);
    protocol = f.u8(off + 6);
    std::memcpy(&k.core[0], f.data + off + 8, 16);
    std::memcpy(&k.core[2], f.data + off + 24, 16);
    in.ip_length = static_cast<std::uint32_t>(total_len);
    in.flow_label = first_word & 0xfffff;
    l4 = off + 40;
    end = std::min(off + total_len, f.captured);
  } else {
    return false;
  }
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  if (!transport(f, l4, end > l4 ? end - l4 : 0, protocol, family, in, src_port, dst_port)) return false;

  k.core[4] = flow_key_detail::port_word(src_port, dst_port, meta.in_ifindex);
  k.core[5] = flow_key_detail::tag_word(vlan, protocol, tos, family);
  k.ext = {};
  in.hash = hash_flow_key(k);
  in.timestamp = meta.timestamp;
  in.l3_options = 0;
  in.out_ifindex = meta.out_ifindex;
  in.ipsec_spi = 0;
  in.phys_in_ifindex = meta.phys_in_ifindex;
  in.phys_out_ifindex = meta.phys_out_ifindex;
  in.direction = meta.direction;
  in.src_prefix = 0;
  in.dst_prefix = 0;
  return true;
}

}  // namespace netflowd
