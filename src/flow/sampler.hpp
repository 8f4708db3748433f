// Flow sampling (the `sampler` parameter, reference section 5; RFC 7014 flow selection).
//
//   deterministic:N  the N-th, 2N-th, ... flow created (per worker shard) is exported
//   random:N         each flow is exported with probability 1/N
//   hash:N           a packet is metered only if a seeded hash of its flow key falls in the
//                    lowest 1/N of the range: the same flows are always selected, and the
//                    others cost no memory; unselected packets are counted as observed only
//
// N is 2..16383. The mode is chosen by the first letter (case-insensitive); an empty value or
// one starting with n, o or 0 disables sampling.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace netflowd {

enum class SamplerMode : std::uint8_t { none = 0, deterministic = 1, random = 2, hash = 3 };

struct SamplerConfig {
  SamplerMode mode = SamplerMode::none;
  std::uint32_t interval = 1;  // N; 1 when not sampling

  // Throws ParameterError("sampler", reason).
  static SamplerConfig parse(std::string_view text);
  // "deterministic:100", or "" when disabled (upstream normalises the same way).
  std::string to_string() const;
  bool operator==(const SamplerConfig&) const = default;

  // NetFlow v5 header sampling_interval: mode in the top 2 bits (hash reported as random).
  std::uint16_t v5_field() const;
  // samplerMode / selector algorithm as collectors know them: hash is random.
  std::uint8_t signalled_mode() const { return mode == SamplerMode::hash ? 2 : static_cast<std::uint8_t>(mode); }
};

// Packet-time decision of the hash sampler: keep iff (hash32 * N) >> 32 == 0.
inline bool hash_selects(std::uint64_t key_hash, std::uint64_t seed, std::uint32_t interval) {
  std::uint64_t h = key_hash ^ seed;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return ((h & 0xffffffffu) * interval) >> 32 == 0;
}

}  // namespace netflowd
