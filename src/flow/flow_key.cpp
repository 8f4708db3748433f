#include "flow/flow_key.hpp"

#include <bit>
#include <cstddef>
#include <cstring>

namespace netflowd {

FlowKey make_flow_key(const ParsedPacket& p, std::uint32_t in_ifindex, const FlowKeyOptions& options) {
  FlowKey k;
  k.src = p.src;
  k.dst = p.dst;
  k.src_port = p.src_port;
  k.dst_port = p.dst_port;
  k.in_ifindex = in_ifindex;
  k.vlan = p.vlan_tci;
  k.protocol = p.protocol;
  k.tos = p.tos;
  k.family = p.family;
  if (options.mac) {
    k.src_mac = p.src_mac;
    k.dst_mac = p.dst_mac;
  }
  for (std::size_t i = 0; i < options.mpls_labels && i < p.mpls_count; ++i) k.mpls[i] = p.mpls[i];
  return k;
}

namespace {

// ext words: source MAC, destination MAC, then the MPLS entries, byte for byte.
struct ExtBytes {
  std::array<std::uint8_t, 6> src_mac;
  std::array<std::uint8_t, 6> dst_mac;
  std::array<std::uint32_t, kMaxMplsLabels> mpls;
};
static_assert(sizeof(ExtBytes) == sizeof(PackedFlowKey::ext));

}  // namespace

void pack_flow_key_ext(const ParsedPacket& p, const FlowKeyOptions& options, PackedFlowKey& k) {
  ExtBytes e{};
  if (options.mac) {
    e.src_mac = p.src_mac;
    e.dst_mac = p.dst_mac;
  }
  for (std::size_t i = 0; i < options.mpls_labels && i < p.mpls_count; ++i) e.mpls[i] = p.mpls[i];
  std::memcpy(k.ext.data(), &e, sizeof e);
}

PackedFlowKey pack_flow_key(const FlowKey& f) {
  PackedFlowKey k;
  std::memcpy(&k.core[0], f.src.data(), 16);
  std::memcpy(&k.core[2], f.dst.data(), 16);
  k.core[4] = flow_key_detail::port_word(f.src_port, f.dst_port, f.in_ifindex);
  k.core[5] = flow_key_detail::tag_word(f.vlan, f.protocol, f.tos, f.family);
  const ExtBytes e{f.src_mac, f.dst_mac, f.mpls};
  std::memcpy(k.ext.data(), &e, sizeof e);
  return k;
}

void unpack_flow_key(const PackedFlowKey& k, FlowKey& f) {
  std::memcpy(f.src.data(), &k.core[0], 16);
  std::memcpy(f.dst.data(), &k.core[2], 16);
  if constexpr (std::endian::native == std::endian::little) {
    // Bytes 32..47 of a FlowKey are port_word() and tag_word() as they lie in memory: two
    // 8-byte moves instead of eight narrow stores (which a following wide read of the key
    // could not take from the store buffer, and stalled on).
    static_assert(offsetof(FlowKey, src_port) == 32 && offsetof(FlowKey, dst_port) == 34 &&
                  offsetof(FlowKey, in_ifindex) == 36 && offsetof(FlowKey, vlan) == 40 &&
                  offsetof(FlowKey, protocol) == 44 && offsetof(FlowKey, tos) == 45 &&
                  offsetof(FlowKey, family) == 46 && offsetof(FlowKey, reserved) == 47);
    std::memcpy(reinterpret_cast<unsigned char*>(&f) + offsetof(FlowKey, src_port), &k.core[4], 16);
  } else {
    f.src_port = static_cast<std::uint16_t>(k.core[4]);
    f.dst_port = static_cast<std::uint16_t>(k.core[4] >> 16);
    f.in_ifindex = static_cast<std::uint32_t>(k.core[4] >> 32);
    f.vlan = {static_cast<std::uint16_t>(k.core[5]), static_cast<std::uint16_t>(k.core[5] >> 16)};
    f.protocol = flow_key_detail::protocol_of(k.core[5]);
    f.tos = static_cast<std::uint8_t>(k.core[5] >> 40);
    f.family = flow_key_detail::family_of(k.core[5]);
    f.reserved = 0;
  }
  if (!k.has_ext()) {
    f.mpls = {};
    f.src_mac = {};
    f.dst_mac = {};
    return;
  }
  ExtBytes e;
  std::memcpy(&e, k.ext.data(), sizeof e);
  f.src_mac = e.src_mac;
  f.dst_mac = e.dst_mac;
  f.mpls = e.mpls;
}

FlowKey unpack_flow_key(const PackedFlowKey& k) {
  FlowKey f;
  unpack_flow_key(k, f);
  return f;
}

}  // namespace netflowd
