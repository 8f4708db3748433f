#include "flow/flow_key.hpp"

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

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  // 128-bit multiply folded to 64 bits: a strong, fast mixer (as in wyhash / rapidhash).
  __extension__ using u128 = unsigned __int128;  // GCC/Clang extension, on purpose
  const u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

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

FlowKey unpack_flow_key(const PackedFlowKey& k) {
  FlowKey f;
  std::memcpy(f.src.data(), &k.core[0], 16);
  std::memcpy(f.dst.data(), &k.core[2], 16);
  f.src_port = static_cast<std::uint16_t>(k.core[4]);
  f.dst_port = static_cast<std::uint16_t>(k.core[4] >> 16);
  f.in_ifindex = static_cast<std::uint32_t>(k.core[4] >> 32);
  f.vlan = {static_cast<std::uint16_t>(k.core[5]), static_cast<std::uint16_t>(k.core[5] >> 16)};
  f.protocol = static_cast<std::uint8_t>(k.core[5] >> 32);
  f.tos = static_cast<std::uint8_t>(k.core[5] >> 40);
  f.family = static_cast<IpFamily>(static_cast<std::uint8_t>(k.core[5] >> 48));
  ExtBytes e;
  std::memcpy(&e, k.ext.data(), sizeof e);
  f.src_mac = e.src_mac;
  f.dst_mac = e.dst_mac;
  f.mpls = e.mpls;
  return f;
}

std::uint64_t hash_flow_key(const PackedFlowKey& key) {
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  const auto& w = key.core;
  std::uint64_t h = mix(w[0] ^ k0, w[1] ^ k1) ^ mix(w[2] ^ k2, w[3] ^ k0) ^ mix(w[4] ^ k1, w[5] ^ k2);
  if (key.has_ext()) h ^= mix(key.ext[0] ^ k0, key.ext[1] ^ k2) ^ mix(key.ext[2] ^ k1, h);
  return mix(h, k0 ^ 0x589965cc75374cc3ull);
}

}  // namespace netflowd
