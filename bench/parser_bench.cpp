#include <benchmark/benchmark.h>

#include "bench_frames.hpp"
#include "flow/fast_input.hpp"
#include "packet/apply_meta.hpp"
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

// From a frame to its metering form (packed key, hash, counters), the way every packet goes
// before the flow cache: the general path (parse_packet, apply_capture_meta,
// make_meter_input) against fast_meter_input. Compare the two in the same run.
void BM_MeterInputGeneral(benchmark::State& state) {
  const auto frames = bench::make_frames(4096, 1000);
  const PacketMeta meta;
  ParsedPacket p;
  MeterInput in;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& f = frames[i++ & 4095];
    if (parse_packet(LinkType::ethernet, f, static_cast<std::uint32_t>(f.size()), p) == ParseStatus::ok) {
      apply_capture_meta(meta, p);
      make_meter_input(p, meta, FlowKeyOptions{}, in);
    }
    benchmark::DoNotOptimize(in);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MeterInputGeneral);

void BM_MeterInputFast(benchmark::State& state) {
  const auto frames = bench::make_frames(4096, 1000);
  const PacketMeta meta;
  MeterInput in;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& f = frames[i++ & 4095];
    benchmark::DoNotOptimize(fast_meter_input(LinkType::ethernet, f, static_cast<std::uint32_t>(f.size()), meta, in));
    benchmark::DoNotOptimize(in);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MeterInputFast);

}  // namespace
}  // namespace netflowd
