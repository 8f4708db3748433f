// Network layer: IPv4 (options, fragments) and IPv6 (extension-header chain, fragments).
#include <algorithm>
#include <cstring>

#include "packet/parse_internal.hpp"

namespace netflowd::parse_detail {
namespace {

// IPv4 options (RFC 791): the option number (type & 0x1f) of every option seen.
std::uint32_t walk_ipv4_options(const Frame& f, std::size_t begin, std::size_t end) {
  std::uint32_t bits = 0;
  walk_options(f, begin, end, [&bits](std::uint8_t type) { bits |= 1u << (type & 0x1f); });
  return bits;
}

// The final (non-extension) header also contributes a bit to ipv6ExtensionHeaders.
std::uint32_t final_header_bit(std::uint8_t proto) {
  switch (proto) {
    case kProtoTcp:
    case kProtoUdp:
    case kProtoIcmpv6:
    case kProtoUdpLite:
    case kProtoSctp:
    case 4:    // IPv4-in-IPv6
    case 41:   // IPv6-in-IPv6
    case 33:   // DCCP
    case 47:   // GRE
    case 103:  // PIM
    case 115:  // L2TP
      return 0;
    case kProtoEsp: return 1u << kExtEsp;
    case 108: return 1u << kExtPayloadCompression;
    default: return 1u << kExtUnknown;  // includes No Next Header (59) and Mobility (135)
  }
}

}  // namespace

ParseStatus parse_ipv4(const Frame& f, std::size_t offset, ParsedPacket& out) {
  if (!f.has(offset, 20)) return ParseStatus::truncated_ip;
  if ((f.u8(offset) >> 4) != 4) return ParseStatus::bad_ip_version;
  const std::size_t header_len = std::size_t{f.u8(offset) & 0x0fu} * 4;
  if (header_len < 20) return ParseStatus::bad_ip_header_length;
  if (!f.has(offset, header_len)) return ParseStatus::truncated_ip;
  const std::size_t total_len = f.u16(offset + 2);
  // The datagram must fit in what was on the wire after the link header; anything after it
  // (Ethernet padding) is not counted.
  if (total_len < header_len || total_len > f.wire - offset) return ParseStatus::bad_ip_total_length;

  out.family = IpFamily::v4;
  out.tos = f.u8(offset + 1);
  out.protocol = f.u8(offset + 9);
  out.ip_length = static_cast<std::uint32_t>(total_len);
  std::memcpy(out.src.data(), f.data + offset + 12, 4);
  std::memcpy(out.dst.data(), f.data + offset + 16, 4);
  if (header_len > 20) out.ipv4_options = walk_ipv4_options(f, offset + 20, offset + header_len);

  // Only fragments with a non-zero offset lack the L4 header; the first fragment keeps ports.
  const std::uint16_t frag = f.u16(offset + 6);
  if ((frag & 0x1fff) != 0) {
    out.later_fragment = true;
    return ParseStatus::ok;
  }
  const std::size_t end = std::min(offset + total_len, f.captured);
  return parse_l4(f, offset + header_len, end, out);
}

ParseStatus parse_ipv6(const Frame& f, std::size_t offset, ParsedPacket& out) {
  if (!f.has(offset, 40)) return ParseStatus::truncated_ip;
  const std::uint32_t first_word = f.u32(offset);
  if ((first_word >> 28) != 6) return ParseStatus::bad_ip_version;
  std::size_t total_len = std::size_t{f.u16(offset + 4)} + 40;
  std::uint8_t next = f.u8(offset + 6);
  if (total_len == 40 && next == kProtoIpv6Hop && f.wire - offset > 40) {
    total_len = f.wire - offset;  // jumbogram (RFC 2675): length is in a hop-by-hop option
  }
  if (total_len > f.wire - offset) return ParseStatus::bad_ip_total_length;

  out.family = IpFamily::v6;
  out.tos = static_cast<std::uint8_t>(first_word >> 20);  // full traffic class
  out.flow_label = first_word & 0xfffff;
  out.ip_length = static_cast<std::uint32_t>(total_len);
  std::memcpy(out.src.data(), f.data + offset + 8, 16);
  std::memcpy(out.dst.data(), f.data + offset + 24, 16);

  const std::size_t end = std::min(offset + total_len, f.captured);
  std::size_t pos = offset + 40;
  // Walk the extension-header chain. A chain cut by the capture leaves the current header
  // as the protocol, without ports, as upstream does.
  for (int guard = 0; guard < 16; ++guard) {
    std::size_t len = 0;
    switch (next) {
      case kProtoIpv6Hop:
      case kProtoIpv6Route:
      case kProtoIpv6Dst:
        if (pos + 2 > end) goto truncated_chain;
        out.ipv6_ext |= 1u << (next == kProtoIpv6Hop ? kExtHop : next == kProtoIpv6Route ? kExtRouting : kExtDst);
        len = (std::size_t{f.u8(pos + 1)} + 1) * 8;
        break;
      case kProtoIpv6Frag: {
        if (pos + 8 > end) goto truncated_chain;
        const bool later = (f.u16(pos + 2) >> 3) != 0;
        out.ipv6_ext |= 1u << (later ? kExtFragLater : kExtFragFirst);
        // Deliberate difference: the first fragment keeps its ports, as in IPv4.
        if (later) out.later_fragment = true;
        len = 8;
        break;
      }
      case kProtoAh:
        if (pos + 8 > end) goto truncated_chain;
        out.ipv6_ext |= 1u << kExtAh;
        out.ipsec_spi = f.u32(pos + 4);
        len = (std::size_t{f.u8(pos + 1)} + 2) * 4;
        break;
      default:
        out.protocol = next;
        out.ipv6_ext |= final_header_bit(next);
        if (out.later_fragment) return ParseStatus::ok;
        return parse_l4(f, pos, end, out);
    }
    next = f.u8(pos);
    pos += len;
  }
  // More than 16 extension headers: treat like a cut chain.
truncated_chain:
  out.protocol = next;
  out.later_fragment = true;
  return ParseStatus::ok;
}

}  // namespace netflowd::parse_detail
