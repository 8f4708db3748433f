#include <benchmark/benchmark.h>

#include <span>

#include "bench_frames.hpp"
#include "flow/fast_input.hpp"
#include "packet/apply_meta.hpp"
#include "packet/parser.hpp"

namespace netflowd {
namespace {

// Runs `step` on the frames of bench::make_frames in turn, once per iteration.
template <typename Step>
void over_frames(benchmark::State& state, Step step) {
  const auto frames = bench::make_frames(4096, 1000);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& f = frames[i++ & 4095];
    step(std::span<const std::uint8_t>(f), static_cast<std::uint32_t>(f.size()));
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ParsePacket(benchmark::State& state) {
  ParsedPacket p;
  over_frames(state, [&](std::span<const std::uint8_t> f, std::uint32_t wire) {
    benchmark::DoNotOptimize(parse_packet(LinkType::ethernet, f, wire, p));
    benchmark::DoNotOptimize(p);
  });
}
BENCHMARK(BM_ParsePacket);

// From a frame to its metering form (packed key, hash, counters), the way every packet goes
// before the flow cache: the general path (parse_packet, apply_capture_meta,
// make_meter_input) against fast_meter_input. Compare the two in the same run.
void BM_MeterInputGeneral(benchmark::State& state) {
  const PacketMeta meta;
  ParsedPacket p;
  MeterInput in;
  over_frames(state, [&](std::span<const std::uint8_t> f, std::uint32_t wire) {
    if (parse_packet(LinkType::ethernet, f, wire, p) == ParseStatus::ok) {
      apply_capture_meta(meta, p);
      make_meter_input(p, meta, FlowKeyOptions{}, in);
    }
    benchmark::DoNotOptimize(in);
  });
}
BENCHMARK(BM_MeterInputGeneral);

void BM_MeterInputFast(benchmark::State& state) {
  const PacketMeta meta;
  MeterInput in;
  over_frames(state, [&](std::span<const std::uint8_t> f, std::uint32_t wire) {
    benchmark::DoNotOptimize(fast_meter_input(LinkType::ethernet, f, wire, meta, in));
    benchmark::DoNotOptimize(in);
  });
}
BENCHMARK(BM_MeterInputFast);

}  // namespace
}  // namespace netflowd
