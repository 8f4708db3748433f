// The flow key: the fields that decide which flow a packet belongs to (reference 6.1).
//
// Trivially comparable: 72 bytes, no implicit padding, so equality and hashing work on whole
// words. MAC addresses and MPLS labels are key fields only when their export is enabled
// (upstream's --enable-macaddress / --promisc-mpls); otherwise they stay zero. Output
// interface, next hop, flow label, TCP flags and options are not key fields; they come from
// a flow's packets.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "common/ip_address.hpp"
#include "packet/packet_meta.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd {

struct FlowKey {
  std::array<std::uint8_t, 16> src{};  // IPv4 in the first 4 bytes, rest zero
  std::array<std::uint8_t, 16> dst{};
  std::uint16_t src_port = 0;  // host order; see ParsedPacket for ICMP/IGMP/IPsec meaning
  std::uint16_t dst_port = 0;
  std::uint32_t in_ifindex = kNoInterface;
  std::array<std::uint16_t, kMaxVlanTags> vlan{};  // full TCI, 0 = no tag
  std::uint8_t protocol = 0;
  std::uint8_t tos = 0;
  IpFamily family = IpFamily::none;
  std::uint8_t reserved = 0;                         // keeps the struct free of implicit padding
  std::array<std::uint32_t, kMaxMplsLabels> mpls{};  // full label stack entries, top first
  std::array<std::uint8_t, 6> src_mac{};
  std::array<std::uint8_t, 6> dst_mac{};

  bool operator==(const FlowKey&) const = default;
};
static_assert(sizeof(FlowKey) == 72, "FlowKey must stay compact and padding-free");

// Which optional fields take part in the key.
struct FlowKeyOptions {
  bool mac = false;
  std::uint8_t mpls_labels = 0;  // 0..kMaxMplsLabels
};

FlowKey make_flow_key(const ParsedPacket& packet, std::uint32_t in_ifindex, const FlowKeyOptions& options = {});

// The key as the flow cache stores, hashes and compares it: six 64-bit words for what every
// flow has (addresses, ports, input ifIndex, VLAN tags, protocol, TOS, family), and three more
// for MAC addresses and MPLS labels, which are zero unless they are key fields. The cache
// keeps the three extra words only when MACs or labels are enabled, so a flow's key costs 48
// bytes by default instead of FlowKey's 72.
struct PackedFlowKey {
  std::array<std::uint64_t, 6> core{};
  std::array<std::uint64_t, 3> ext{};  // src MAC, dst MAC (12 bytes), MPLS entries (12 bytes)

  bool operator==(const PackedFlowKey&) const = default;
  bool has_ext() const { return (ext[0] | ext[1] | ext[2]) != 0; }
};

namespace flow_key_detail {
// Where an IPv4 address lies in its 64-bit key word: its 4 bytes first in memory, then zeros,
// as a 16-byte copy of the address would leave them.
inline constexpr int kIpv4Shift = std::endian::native == std::endian::little ? 0 : 32;
// The key word of the IPv4 address whose 4 bytes start at `address`.
inline std::uint64_t ipv4_word(const std::uint8_t* address) {
  std::uint32_t a = 0;
  std::memcpy(&a, address, 4);
  return std::uint64_t{a} << kIpv4Shift;
}
inline std::uint64_t port_word(std::uint16_t src_port, std::uint16_t dst_port, std::uint32_t in_ifindex) {
  return std::uint64_t{src_port} | std::uint64_t{dst_port} << 16 | std::uint64_t{in_ifindex} << 32;
}
inline std::uint64_t tag_word(const std::array<std::uint16_t, kMaxVlanTags>& vlan, std::uint8_t protocol,
                              std::uint8_t tos, IpFamily family) {
  static_assert(kMaxVlanTags == 2);
  return std::uint64_t{vlan[0]} | std::uint64_t{vlan[1]} << 16 | std::uint64_t{protocol} << 32 |
         std::uint64_t{tos} << 40 | std::uint64_t{static_cast<std::uint8_t>(family)} << 48;
}
// The IP protocol and the address family in a tag_word().
inline std::uint8_t protocol_of(std::uint64_t tag_word) { return static_cast<std::uint8_t>(tag_word >> 32); }
inline IpFamily family_of(std::uint64_t tag_word) {
  return static_cast<IpFamily>(static_cast<std::uint8_t>(tag_word >> 48));
}
}  // namespace flow_key_detail

void pack_flow_key_ext(const ParsedPacket& packet, const FlowKeyOptions& options, PackedFlowKey& key);

// Packs a parsed packet's key into `key`, in place: this runs for every packet. An IPv4
// address is read as the 4 bytes the parser wrote (the other 12 are zero), not as 16, which
// would read across the parser's separate stores and stall the CPU's store forwarding.
inline void pack_flow_key(const ParsedPacket& p, std::uint32_t in_ifindex, const FlowKeyOptions& options,
                          PackedFlowKey& k) {
  if (p.family == IpFamily::v6) {
    std::memcpy(&k.core[0], p.src.data(), 16);
    std::memcpy(&k.core[2], p.dst.data(), 16);
  } else {
    k.core[0] = flow_key_detail::ipv4_word(p.src.data());
    k.core[1] = 0;
    k.core[2] = flow_key_detail::ipv4_word(p.dst.data());
    k.core[3] = 0;
  }
  k.core[4] = flow_key_detail::port_word(p.src_port, p.dst_port, in_ifindex);
  k.core[5] = flow_key_detail::tag_word(p.vlan_tci, p.protocol, p.tos, p.family);
  if (options.mac || options.mpls_labels != 0) {
    pack_flow_key_ext(p, options, k);
  } else {
    k.ext = {};
  }
}
inline PackedFlowKey pack_flow_key(const ParsedPacket& packet, std::uint32_t in_ifindex,
                                   const FlowKeyOptions& options = {}) {
  PackedFlowKey k;
  pack_flow_key(packet, in_ifindex, options, k);
  return k;
}
PackedFlowKey pack_flow_key(const FlowKey& key);

// The XOR of the big-endian 32-bit words of the key's two addresses, and of its ports for
// TCP and UDP: what decides a flow's worker (common/flow_shard.hpp).
inline std::uint32_t fold_for_shard(const PackedFlowKey& k) {
  const std::uint64_t x = k.core[0] ^ k.core[1] ^ k.core[2] ^ k.core[3];
  auto folded = static_cast<std::uint32_t>(x) ^ static_cast<std::uint32_t>(x >> 32);
  // A byte swap commutes with XOR: swapping once at the end reads every word big-endian.
  if constexpr (std::endian::native == std::endian::little) folded = __builtin_bswap32(folded);
  const auto protocol = flow_key_detail::protocol_of(k.core[5]);
  if (protocol == 6 || protocol == 17) {
    const auto src_port = static_cast<std::uint16_t>(k.core[4]);
    const auto dst_port = static_cast<std::uint16_t>(k.core[4] >> 16);
    folded ^= std::uint32_t{src_port} << 16 | dst_port;
  }
  return folded;
}

FlowKey unpack_flow_key(const PackedFlowKey& key);
void unpack_flow_key(const PackedFlowKey& key, FlowKey& out);  // every field of `out`

namespace flow_key_detail {
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  // 128-bit multiply folded to 64 bits: a strong, fast mixer (as in wyhash / rapidhash).
  __extension__ using u128 = unsigned __int128;  // GCC/Clang extension, on purpose
  const u128 r = static_cast<u128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}
}  // namespace flow_key_detail

// 64-bit hash of a key (the extra words count only when they are not all zero). Fixed seed:
// results are reproducible run to run. Inline: where the caller has just written the key
// (the fast path), the compiler knows its zero words and leaves out their work.
inline std::uint64_t hash_flow_key(const PackedFlowKey& key) {
  using flow_key_detail::mix;
  constexpr std::uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  const auto& w = key.core;
  std::uint64_t h = mix(w[0] ^ k0, w[1] ^ k1) ^ mix(w[2] ^ k2, w[3] ^ k0) ^ mix(w[4] ^ k1, w[5] ^ k2);
  if (key.has_ext()) h ^= mix(key.ext[0] ^ k0, key.ext[1] ^ k2) ^ mix(key.ext[2] ^ k1, h);
  return mix(h, k0 ^ 0x589965cc75374cc3ull);
}
inline std::uint64_t hash_flow_key(const FlowKey& key) { return hash_flow_key(pack_flow_key(key)); }

}  // namespace netflowd
