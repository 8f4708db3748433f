// A tiny deterministic generator for the randomised unit tests: the same sequence on every
// run and every platform (std::mt19937's distributions are not portable across libraries).
#pragma once

#include <cstdint>

namespace netflowd::test {

class XorShift64 {
 public:
  explicit XorShift64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t operator()() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }

 private:
  std::uint64_t state_;
};

}  // namespace netflowd::test
