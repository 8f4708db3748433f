#include <benchmark/benchmark.h>

#include "export/netflow5/netflow5_encoder.hpp"

namespace netflowd {
namespace {

struct NullSink : DatagramSink {
  std::size_t bytes = 0;
  void send(std::span<const std::uint8_t> d, const DatagramContents&) override { bytes += d.size(); }
};

void BM_Netflow5Encode(benchmark::State& state) {
  NullSink sink;
  Netflow5Encoder encoder(ExportConfig{}, sink);
  FlowRecord r;
  r.key.family = IpFamily::v4;
  r.key.protocol = 6;
  r.packets = 10;
  r.bytes = 1000;
  for (auto _ : state) {
    ++r.key.src[3];
    encoder.add(r, 1000);
  }
  benchmark::DoNotOptimize(sink.bytes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Netflow5Encode);

}  // namespace
}  // namespace netflowd
