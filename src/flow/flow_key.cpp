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

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  // 128-bit multiply folded to 64 bits: a strong, fast mixer (as in wyhash / rapidhash).
  __extension__ using u128 = unsigned __int128;  // GCC/Clang extension, on purpose
  const u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

}  // namespace

std::uint64_t hash_flow_key(const FlowKey& key) {
  std::uint64_t w[9];
  static_assert(sizeof w == sizeof key);
  std::memcpy(w, &key, sizeof w);
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  std::uint64_t h = mix(w[0] ^ k0, w[1] ^ k1) ^ mix(w[2] ^ k2, w[3] ^ k0) ^ mix(w[4] ^ k1, w[5] ^ k2);
  h ^= mix(w[6] ^ k0, w[7] ^ k1) ^ mix(w[8] ^ k2, h);
  return mix(h, k0 ^ 0x589965cc75374cc3ull);
}

}  // namespace netflowd
