#include "flow/fast_input.hpp"

#include <algorithm>
#include <cstring>

namespace netflowd {

namespace {

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

constexpr std::uint8_t kTcp = 6;
constexpr std::uint8_t kUdp = 17;

// The kinds (< 64) of the TCP options in [begin, end), walked as the general parser walks them
// (RFC 9293 layout: end-of-list stops, no-op is one byte, a length below 2 or past the end
// stops).
std::uint64_t tcp_option_bits(const std::uint8_t* d, std::size_t begin, std::size_t end) {
  std::uint64_t bits = 0;
  for (std::size_t i = begin; i < end;) {
    const std::uint8_t kind = d[i];
    if (kind < 64) bits |= std::uint64_t{1} << kind;
    if (kind == 0) break;
    if (kind == 1) {
      ++i;
      continue;
    }
    if (i + 1 >= end) break;
    const std::uint8_t len = d[i + 1];
    if (len < 2) break;
    i += len;
  }
  return bits;
}

// TCP or UDP header at `l4`, `avail` bytes of the datagram captured from there on.
bool transport(const std::uint8_t* d, std::size_t l4, std::size_t avail, std::uint8_t protocol, MeterInput& in,
               std::uint16_t& src_port, std::uint16_t& dst_port) {
  if (protocol == kTcp) {
    if (avail < 20) return false;
    in.tcp_flags = d[l4 + 13];
    const std::size_t header_len = std::size_t{d[l4 + 12]} / 16 * 4;
    in.tcp_options = header_len > 20 ? tcp_option_bits(d, l4 + 20, l4 + std::min(header_len, avail)) : 0;
  } else if (protocol == kUdp) {
    if (avail < 8) return false;
    in.tcp_flags = 0;
    in.tcp_options = 0;
  } else {
    return false;
  }
  src_port = be16(d + l4);
  dst_port = be16(d + l4 + 2);
  return true;
}

}  // namespace

bool fast_meter_input(LinkType link, std::span<const std::uint8_t> frame, std::uint32_t wire_length,
                      const PacketMeta& meta, MeterInput& in) {
  const std::uint8_t* d = frame.data();
  const std::size_t captured = frame.size();
  const std::size_t wire = std::max<std::size_t>(wire_length, captured);

  // Link layer: where the IP header starts, its version, and the in-frame VLAN tag.
  std::size_t off = 0;
  unsigned version = 0;
  std::uint16_t frame_tag = 0;
  switch (link) {
    case LinkType::ethernet: {
      if (captured < 14) return false;
      std::uint16_t type = be16(d + 12);
      off = 14;
      if (type == 0x8100 || type == 0x88a8 || type == 0x9100) {
        if (captured < 18) return false;
        frame_tag = be16(d + 14);
        type = be16(d + 16);
        off = 18;
      }
      if (type == 0x0800) {
        version = 4;
      } else if (type == 0x86dd) {
        version = 6;
      } else {
        return false;  // a second tag, MPLS, or not IP
      }
      break;
    }
    case LinkType::raw_ip:
      if (captured < 1) return false;
      version = d[0] >> 4;
      break;
    case LinkType::ipv4: version = 4; break;
    case LinkType::ipv6: version = 6; break;
    default: return false;
  }
  // A tag removed before capture is the outer one (apply_capture_meta).
  const std::array<std::uint16_t, kMaxVlanTags> vlan =
      meta.has_stripped_vlan ? std::array<std::uint16_t, kMaxVlanTags>{meta.stripped_vlan_tci, frame_tag}
                             : std::array<std::uint16_t, kMaxVlanTags>{frame_tag, 0};

  PackedFlowKey& k = in.key;
  std::uint8_t protocol = 0;
  std::uint8_t tos = 0;
  std::size_t l4 = 0;
  std::size_t end = 0;
  IpFamily family;
  if (version == 4) {
    // No options (IHL 5), not a later fragment, the length within the wire frame.
    if (captured < off + 20 || d[off] != 0x45) return false;
    const std::size_t total_len = be16(d + off + 2);
    if (total_len < 20 || total_len > wire - off || (be16(d + off + 6) & 0x1fff) != 0) return false;
    family = IpFamily::v4;
    tos = d[off + 1];
    protocol = d[off + 9];
    std::uint32_t src = 0, dst = 0;
    std::memcpy(&src, d + off + 12, 4);
    std::memcpy(&dst, d + off + 16, 4);
    // As pack_flow_key: the address bytes first in memory, then zeros.
    constexpr int shift = std::endian::native == std::endian::little ? 0 : 32;
    k.core[0] = std::uint64_t{src} << shift;
    k.core[1] = 0;
    k.core[2] = std::uint64_t{dst} << shift;
    k.core[3] = 0;
    in.ip_length = static_cast<std::uint32_t>(total_len);
    in.flow_label = 0;
    l4 = off + 20;
    end = std::min(off + total_len, captured);
  } else if (version == 6) {
    // TCP or UDP right after the fixed header (no extension headers, so no jumbogram).
    if (captured < off + 40) return false;
    const std::uint32_t first_word = be32(d + off);
    if ((first_word >> 28) != 6) return false;
    const std::size_t total_len = std::size_t{be16(d + off + 4)} + 40;
    if (total_len > wire - off) return false;
    family = IpFamily::v6;
    tos = static_cast<std::uint8_t>(first_word >> 20);
    protocol = d[off + 6];
    std::memcpy(&k.core[0], d + off + 8, 16);
    std::memcpy(&k.core[2], d + off + 24, 16);
    in.ip_length = static_cast<std::uint32_t>(total_len);
    in.flow_label = first_word & 0xfffff;
    l4 = off + 40;
    end = std::min(off + total_len, captured);
  } else {
    return false;
  }
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  if (!transport(d, l4, end > l4 ? end - l4 : 0, protocol, in, src_port, dst_port)) return false;

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
