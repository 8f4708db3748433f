#include <benchmark/benchmark.h>

#include "bench_frames.hpp"
#include "packet/parser.hpp"

namespace netflowd {
namespace {

void BM_ParsePacket(benchmark::State& state) {
  const auto frames = bench::make_frames(4096, 1000);
  ParsedPacket p;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& f = frames[i++ & 4095];
    benchmark::DoNotOptimize(parse_packet(LinkType::ethernet, f, static_cast<std::uint32_t>(f.size()), p));
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParsePacket);

}  // namespace
}  // namespace netflowd
