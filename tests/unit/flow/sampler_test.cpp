#include "flow/sampler.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace netflowd {
namespace {

TEST(Sampler, ParseModesLikeUpstream) {
  EXPECT_EQ(SamplerConfig::parse("").mode, SamplerMode::none);
  EXPECT_EQ(SamplerConfig::parse("none").mode, SamplerMode::none);
  EXPECT_EQ(SamplerConfig::parse("off").mode, SamplerMode::none);
  EXPECT_EQ(SamplerConfig::parse("0").mode, SamplerMode::none);
  EXPECT_EQ(SamplerConfig::parse("Det:100").to_string(), "deterministic:100");
  EXPECT_EQ(SamplerConfig::parse("random:2").to_string(), "random:2");
  EXPECT_EQ(SamplerConfig::parse("h:16383").to_string(), "hash:16383");
  for (const char* bad : {"random", "random:1", "random:16384", "random:x", "x:10"}) {
    EXPECT_THROW(SamplerConfig::parse(bad), ParameterError) << bad;
  }
}

TEST(Sampler, V5HeaderField) {
  EXPECT_EQ(SamplerConfig::parse("deterministic:100").v5_field(), (1 << 14) | 100);
  EXPECT_EQ(SamplerConfig::parse("random:100").v5_field(), (2 << 14) | 100);
  EXPECT_EQ(SamplerConfig::parse("hash:100").v5_field(), (2 << 14) | 100) << "hash is signalled as random";
  EXPECT_EQ(SamplerConfig{}.v5_field(), 0);
}

TEST(Sampler, HashSelectsAboutOneInN) {
  std::uint64_t selected = 0;
  constexpr std::uint64_t kKeys = 200000;
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    const std::uint64_t h = k * 0x9E3779B97F4A7C15ull;
    selected += hash_selects(h, 12345, 10);
    EXPECT_EQ(hash_selects(h, 12345, 10), hash_selects(h, 12345, 10)) << "the same key, the same decision";
  }
  EXPECT_GT(selected, kKeys / 10 * 9 / 10);
  EXPECT_LT(selected, kKeys / 10 * 11 / 10);
}

}  // namespace
}  // namespace netflowd
