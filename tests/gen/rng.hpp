// Small deterministic PRNG. std::uniform_int_distribution & co. are not
// specified bit-exactly and differ between standard libraries, so a capture
// made from a given seed would not be reproducible; SplitMix64 plus our own
// range reduction is.
#pragma once

#include <cstdint>

namespace nfgen {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::uint32_t u32() { return static_cast<std::uint32_t>(next() >> 32); }
  std::uint16_t u16() { return static_cast<std::uint16_t>(next() >> 48); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(next() >> 56); }

  // Uniform in [0, n) for n < 2^32 (multiply-shift: no modulo, negligible bias).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>((static_cast<std::uint64_t>(u32()) * n) >> 32);
  }

  // Uniform in [lo, hi] (inclusive), hi - lo < 2^32 - 1.
  std::uint32_t range(std::uint32_t lo, std::uint32_t hi) { return lo + below(hi - lo + 1); }

  // True with probability per_mille / 1000.
  bool chance(std::uint32_t per_mille) { return below(1000) < per_mille; }

 private:
  std::uint64_t state_;
};

}  // namespace nfgen
