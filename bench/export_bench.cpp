// Export throughput: flow records encoded (NetFlow v5, v9, IPFIX) and sent as UDP datagrams
// to a socket on 127.0.0.1, per core. The target is at least 1M records per second;
// items/s in the output is records per second. The receiving socket is bound and never read,
// so the kernel drops what does not fit in its buffer, as in bench/peers. BM_ExportEncode is
// the same without the send: the encoder's own time per record, which the kernel's share of
// the first one hides.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <vector>

#include "common/unique_fd.hpp"
#include "control/config.hpp"
#include "pipeline/export_stage.hpp"
#include "transport/udp_exporter.hpp"

namespace netflowd {
namespace {

// A bound UDP socket on 127.0.0.1 with a kernel-chosen port.
struct Sink {
  UniqueFd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  std::uint16_t port = 0;
  Sink() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("cannot bind the sink socket");
    }
    port = ntohs(a.sin_port);
  }
};

FlowRecord sample_record(std::uint32_t i, bool v6) {
  FlowRecord r;
  r.key.family = v6 ? IpFamily::v6 : IpFamily::v4;
  r.key.protocol = 6;
  r.key.src = {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
  r.key.dst = {192, 0, 2, 1};
  r.key.src_port = static_cast<std::uint16_t>(i);
  r.key.dst_port = 443;
  r.key.in_ifindex = 2;
  r.out_ifindex = 3;
  r.packets = 10 + i % 100;
  r.bytes = r.packets * 700;
  r.first = 1'000'000;
  r.last = 2'000'000;
  r.tcp_flags = 0x1b;
  r.ethertype = v6 ? 0x86dd : 0x0800;
  r.end_reason = FlowEndReason::idle_timeout;
  return r;
}

void BM_ExportEncodeAndSend(benchmark::State& state) {
  const int protocol = static_cast<int>(state.range(0));
  const bool v6 = state.range(1) != 0;
  Sink sink;
  Config config;
  config.protocol = protocol;
  config.destinations = parse_destinations("127.0.0.1:" + std::to_string(sink.port));
  UdpExporter exporter(config.destinations, UdpExporterOptions{});
  ExportStage stage(config, exporter, 0);
  std::uint32_t i = 0;
  TimeUs now = 3'000'000;
  for (auto _ : state) {
    stage.add(sample_record(i++, v6), now);
    if ((i & 0xffff) == 0) now += kUsPerSecond;
  }
  stage.finish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["datagrams"] = static_cast<double>(exporter.totals().datagrams);
  state.counters["records_per_datagram"] = static_cast<double>(state.iterations()) /
                                           static_cast<double>(std::max<std::uint64_t>(exporter.totals().datagrams, 1));
}
// Counts the datagrams and drops them.
class CountingSink final : public DatagramSink {
 public:
  void send(std::span<const std::uint8_t> datagram, const DatagramContents&) override {
    ++datagrams_;
    benchmark::DoNotOptimize(datagram.data());
  }
  ExportTotals totals() const override { return {.datagrams = datagrams_, .delivered = datagrams_}; }

 private:
  std::uint64_t datagrams_ = 0;
};

// Records of 4,096 flows, IPv4 or IPv6 or both in a random order (ipv6:2, a quarter IPv6),
// encoded over and over.
void BM_ExportEncode(benchmark::State& state) {
  const int protocol = static_cast<int>(state.range(0));
  std::vector<FlowRecord> records;
  std::uint64_t random = 0x9e3779b97f4a7c15;
  for (std::uint32_t i = 0; i < 4096; ++i) {
    random = random * 6364136223846793005 + 1442695040888963407;
    const bool v6 = state.range(1) == 1 || (state.range(1) == 2 && (random >> 62) == 0);
    records.push_back(sample_record(i, v6));
  }
  CountingSink sink;
  Config config;
  config.protocol = protocol;
  ExportStage stage(config, sink, 0);
  std::size_t i = 0;
  TimeUs now = 3'000'000;
  for (auto _ : state) {
    stage.add(records[i++ & 4095], now);
    if ((i & 0xffff) == 0) now += kUsPerSecond;
  }
  stage.finish(now);
  state.SetItemsProcessed(state.iterations());
  state.counters["datagrams"] = static_cast<double>(sink.totals().datagrams);
}
BENCHMARK(BM_ExportEncode)->ArgNames({"protocol", "ipv6"})->Args({5, 0})->ArgsProduct({{9, 10}, {0, 1, 2}});

BENCHMARK(BM_ExportEncodeAndSend)
    ->ArgNames({"protocol", "ipv6"})
    ->Args({5, 0})
    ->Args({9, 0})
    ->Args({9, 1})
    ->Args({10, 0})
    ->Args({10, 1})
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace netflowd
