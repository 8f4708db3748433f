// Transport layer: the fields that key and describe a flow.
#include <algorithm>

#include "packet/parse_internal.hpp"

namespace netflowd::parse_detail {
namespace {

// TCP options (RFC 9293): kinds below 64 (the width of tcpOptions, IE 209).
std::uint64_t walk_tcp_options(const Frame& f, std::size_t begin, std::size_t end) {
  std::uint64_t bits = 0;
  walk_options(f, begin, end, [&bits](std::uint8_t kind) {
    if (kind < 64) bits |= std::uint64_t{1} << kind;
  });
  return bits;
}

void set_spi(ParsedPacket& out, std::uint32_t spi) {
  out.ipsec_spi = spi;
  out.src_port = static_cast<std::uint16_t>(spi >> 16);
  out.dst_port = static_cast<std::uint16_t>(spi);
}

}  // namespace

ParseStatus parse_l4(const Frame& f, std::size_t offset, std::size_t end, ParsedPacket& out) {
  const std::size_t avail = end > offset ? end - offset : 0;
  switch (out.protocol) {
    case kProtoTcp: {
      if (avail < 20) return ParseStatus::truncated_l4;
      out.src_port = f.u16(offset);
      out.dst_port = f.u16(offset + 2);
      out.tcp_flags = f.u8(offset + 13);
      const std::size_t header_len = std::size_t{f.u8(offset + 12)} / 16 * 4;
      if (header_len > 20) out.tcp_options = walk_tcp_options(f, offset + 20, offset + std::min(header_len, avail));
      return ParseStatus::ok;
    }
    case kProtoUdp:
    case kProtoUdpLite:
      if (avail < 8) return ParseStatus::truncated_l4;
      out.src_port = f.u16(offset);
      out.dst_port = f.u16(offset + 2);
      return ParseStatus::ok;
    case kProtoSctp:
      if (avail < 12) return ParseStatus::truncated_l4;
      out.src_port = f.u16(offset);
      out.dst_port = f.u16(offset + 2);
      return ParseStatus::ok;
    case kProtoIcmp:
    case kProtoIcmpv6:
      if (!is_icmp_of_family(out.protocol, out.family)) return ParseStatus::ok;
      if (avail < 4) return ParseStatus::truncated_l4;
      out.icmp_type = f.u8(offset);
      out.icmp_code = f.u8(offset + 1);
      out.dst_port = icmp_port(out.icmp_type, out.icmp_code);
      return ParseStatus::ok;
    case kProtoIgmp:
      if (out.family != IpFamily::v4) return ParseStatus::ok;
      if (avail < 4) return ParseStatus::truncated_l4;
      out.dst_port = f.u8(offset);  // deliberate: the type itself, not host-order dependent
      return ParseStatus::ok;
    case kProtoEsp:
      if (avail < 4) return ParseStatus::truncated_l4;
      set_spi(out, f.u32(offset));
      return ParseStatus::ok;
    case kProtoAh:  // IPv4 only: in IPv6 AH is walked as an extension header
      if (avail < 8) return ParseStatus::truncated_l4;
      set_spi(out, f.u32(offset + 4));
      return ParseStatus::ok;
    default: return ParseStatus::ok;  // no ports (GRE, OSPF, ...)
  }
}

}  // namespace netflowd::parse_detail
