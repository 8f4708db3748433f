#include <benchmark/benchmark.h>

#include <vector>

#include "flow/flow_cache.hpp"

namespace netflowd {
namespace {

// Cache update (lookup + counter update; a new flow when missing) with packets spread at
// random over state.range(0) distinct keys. The key is varied in place (a few ns of the
// measured time), so no packet array larger than the cache itself is needed.
void BM_FlowCacheMeter(benchmark::State& state) {
  const auto keys = static_cast<std::uint64_t>(state.range(0));
  ParsedPacket p;
  p.family = IpFamily::v4;
  p.protocol = 6;
  p.dst = {192, 168, 0, 1};
  p.src_port = 40000;
  p.dst_port = 443;
  p.ip_length = 140;
  FlowCacheConfig config;
  config.maxflows = 0;
  FlowCache cache(config);
  std::vector<FlowRecord> ended;
  PacketMeta meta;
  meta.timestamp = 1;
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto _ : state) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const auto k = static_cast<std::uint32_t>(x % keys);
    p.src = {10, static_cast<std::uint8_t>(k >> 16), static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k)};
    benchmark::DoNotOptimize(cache.meter(p, meta, ended));
    ended.clear();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["flows"] = static_cast<double>(cache.size());
  state.counters["bytes_per_flow"] =
      cache.size() == 0 ? 0.0 : static_cast<double>(cache.memory_bytes()) / static_cast<double>(cache.size());
}
BENCHMARK(BM_FlowCacheMeter)->Arg(1000)->Arg(100000)->Arg(1000000);

}  // namespace
}  // namespace netflowd
