#include "pipeline/flow_cache_config.hpp"

#include <gtest/gtest.h>

namespace netflowd {
namespace {

constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

// Upstream's automatic size: RAM / 1024 bytes, at most 5 MiB, of 8-byte buckets.
TEST(AutomaticHashsize, FollowsUpstreamsTableSize) {
  EXPECT_EQ(automatic_hashsize(kGiB, 1), 131072u);  // the reference's example
  EXPECT_EQ(automatic_hashsize(2 * kGiB, 1), 262144u);
  EXPECT_EQ(automatic_hashsize(5 * kGiB, 1), 655360u);
  EXPECT_EQ(automatic_hashsize(64 * kGiB, 1), 655360u);  // capped at 5 MiB of buckets
  EXPECT_EQ(automatic_hashsize(0, 1), 256u);             // memory size unknown: the minimum
  EXPECT_EQ(automatic_hashsize(kGiB / 1024, 1), 256u);
}

TEST(AutomaticHashsize, SharedByTheWorkers) {
  EXPECT_EQ(automatic_hashsize(64 * kGiB, 2), 327680u);
  EXPECT_EQ(automatic_hashsize(kGiB, 4), 32768u);
  EXPECT_EQ(automatic_hashsize(kGiB / 64, 16), 256u);
  EXPECT_EQ(automatic_hashsize(kGiB, 0), 131072u);  // no workers given: one cache
}

TEST(FlowCacheConfigOf, HashsizeZeroIsAutomaticOtherwiseKept) {
  Config c;
  c.hashsize = 0;
  EXPECT_EQ(flow_cache_config(c, 2).hashsize, automatic_hashsize(physical_memory_bytes(), 2));
  EXPECT_GT(physical_memory_bytes(), 0u);
  c.hashsize = 4096;
  EXPECT_EQ(flow_cache_config(c, 2).hashsize, 4096u);  // a set size is every worker's
  EXPECT_EQ(flow_cache_config(c).hashsize, 4096u);
}

TEST(FlowCacheConfigOf, FlowsAreNumberedOnlyForDeterministicSampling) {
  Config c;
  EXPECT_FALSE(flow_cache_config(c).number_flows);
  for (const char* sampler : {"random:4", "hash:4"}) {
    c.sampler = SamplerConfig::parse(sampler);
    EXPECT_FALSE(flow_cache_config(c).number_flows) << sampler;
  }
  c.sampler = SamplerConfig::parse("deterministic:4");
  EXPECT_TRUE(flow_cache_config(c).number_flows);
}

}  // namespace
}  // namespace netflowd
