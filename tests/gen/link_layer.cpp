#include "link_layer.hpp"

namespace nfgen {

namespace {

constexpr std::size_t min_ethernet_payload = 46;  // 60-byte minimum frame minus 14-byte header

// The type field right after the MAC addresses: the outer TPID, or the
// ethertype itself when untagged.
std::uint16_t first_type_field(const L2Info& l2, std::uint16_t ethertype) {
  switch (l2.vlan) {
    case VlanMode::none: return ethertype;
    case VlanMode::dot1q: return ethertype::vlan;
    case VlanMode::qinq: return ethertype::qinq;
  }
  return ethertype;
}

// The tag stack that follows the first type field (TCI, next type, ...).
void put_tags(const L2Info& l2, std::uint16_t ethertype, Bytes& b) {
  switch (l2.vlan) {
    case VlanMode::none: break;
    case VlanMode::dot1q:
      put_u16(b, l2.outer_tci);
      put_u16(b, ethertype);
      break;
    case VlanMode::qinq:
      put_u16(b, l2.outer_tci);
      put_u16(b, ethertype::vlan);
      put_u16(b, l2.inner_tci);
      put_u16(b, ethertype);
      break;
  }
}

}  // namespace

void build_frame(LinkType link, const L2Info& l2, std::uint16_t ethertype, std::span<const std::uint8_t> l3,
                 const FrameOptions& opts, Bytes& out) {
  out.clear();
  if (link == LinkType::raw) {
    put_bytes(out, l3);
    return;
  }
  const std::uint16_t first_type = first_type_field(l2, ethertype);
  switch (link) {
    case LinkType::en10mb:
      put_bytes(out, l2.dst_mac);
      put_bytes(out, l2.src_mac);
      put_u16(out, first_type);
      break;
    case LinkType::sll:  // DLT_LINUX_SLL: pkttype, ARPHRD, addr len, addr[8], protocol
      put_u16(out, 0);   // PACKET_HOST
      put_u16(out, 1);   // ARPHRD_ETHER
      put_u16(out, 6);
      put_bytes(out, l2.src_mac);
      put_zeros(out, 2);
      put_u16(out, first_type);
      break;
    case LinkType::sll2:  // DLT_LINUX_SLL2: protocol, reserved, ifindex, ARPHRD, pkttype, addr len, addr[8]
      put_u16(out, first_type);
      put_u16(out, 0);
      put_u32(out, 2);
      put_u16(out, 1);
      put_u8(out, 0);
      put_u8(out, 6);
      put_bytes(out, l2.src_mac);
      put_zeros(out, 2);
      break;
    case LinkType::raw: break;
  }
  const std::size_t header_len = out.size();
  put_tags(l2, ethertype, out);
  put_bytes(out, l3);
  if (opts.pad && out.size() - header_len < min_ethernet_payload) out.resize(header_len + min_ethernet_payload, 0);
}

}  // namespace nfgen
