// Payload bytes: slices of one pre-generated random pool, so filling a
// packet costs a memcpy instead of a PRNG call per byte. The pool holds only
// lowercase letters: random binary payload trips tshark's heuristic
// dissectors (RTCP, HART-IP, COTP, ...) and the HTTP dissector on port 80,
// which then report "malformed" packets we did not make malformed on purpose.
#pragma once

#include "rng.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nfgen {

class PayloadPool {
 public:
  static constexpr std::size_t max_slice = 8192;

  explicit PayloadPool(Rng& rng) : pool_(64 * 1024 + max_slice) {
    for (auto& b : pool_) b = static_cast<std::uint8_t>('a' + rng.below(26));
  }

  std::span<const std::uint8_t> slice(Rng& rng, std::size_t len) const {
    const std::size_t start = rng.below(static_cast<std::uint32_t>(pool_.size() - max_slice));
    return {pool_.data() + start, len < max_slice ? len : max_slice};
  }

 private:
  std::vector<std::uint8_t> pool_;
};

}  // namespace nfgen
