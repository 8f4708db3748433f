// How the live pipeline spreads flows over its workers: by fields the kernel can read too,
// so that it can make the same choice before netflowd sees a packet (the AF_PACKET fanout
// program in capture/afpacket) and each worker's ring gets the packets of its own flows.
//
//   folded = XOR of the big-endian 32-bit words of the source and destination addresses
//            (an IPv4 address is one word, an IPv6 address four), and for TCP and UDP of the
//            ports (source port << 16 | destination port; 0 in later fragments)
//   worker = (((folded * kShardMultiplier) mod 2^32) >> kShardShift) mod workers
#pragma once

#include <cstdint>

namespace netflowd {

inline constexpr std::uint32_t kShardMultiplier = 0x9E3779B1u;  // 2^32 / golden ratio
inline constexpr unsigned kShardShift = 16;

inline std::uint32_t shard_of_folded(std::uint32_t folded, std::uint32_t workers) {
  return ((folded * kShardMultiplier) >> kShardShift) % workers;
}

}  // namespace netflowd
