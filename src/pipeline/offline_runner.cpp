#include "pipeline/offline_runner.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <random>
#include <vector>

#include "capture/pcap/pcap_file_source.hpp"
#include "flow/fast_input.hpp"
#include "packet/parser.hpp"
#include "pipeline/export_stage.hpp"
#include "pipeline/flow_cache_config.hpp"

namespace netflowd {

namespace {

// Packets go through a four-stage pipeline of batches: a batch is read, parsed and hashed and
// its flows' index slots prefetched; one round later the entries those slots point to are
// prefetched; one round later, for IPv6 packets, the address records those entries point to;
// one more round later it is metered, in capture order. With hundreds of thousands of flows
// every lookup is a cache miss or two (three for IPv6); this way they overlap with other work
// instead of following one another. Everything else (the clock, expiry scans, export)
// happens per packet in capture order, exactly as without batching.
// Eight: with 16, the prefetches in flight (an index line and two entry lines per packet)
// exceeded what one core tracks at once, and a 1M-flow replay took 1.26x the CPU.
constexpr std::size_t kBatch = 8;

struct BatchSlot {
  MeterInput in;  // in.timestamp is set for every frame, the rest for parsed ones
  std::uint32_t wire_length = 0;
  ParseStatus status = ParseStatus::ok;
  bool meter = false;                       // parsed and not sampled out
  std::uint32_t hint = FlowCache::kNoHint;  // from prefetch_entry(), for meter()
};

}  // namespace

RunSummary run_offline(CaptureSource& source, const Config& config, DatagramSink& sink,
                       const std::vector<InterfaceInfo>& interfaces) {
  RunSummary summary;
  FlowCache cache(flow_cache_config(config));
  std::optional<ExportStage> exporter;
  std::vector<FlowRecord> ended;
  ended.reserve(1024);
  CapturedFrame frame;
  ParsedPacket packet;
  TimeUs now = 0;
  TimeUs clock = 0;  // the capture's clock as frames are read (it never runs backwards)
  TimeUs next_scan = 0;
  MeteringTotals metering;
  const LinkType link = source.link_type();
  const AggregationRules* aggregation = config.aggregation_rules.get();
  if (aggregation) summary.aggregation_usage.assign(aggregation->size(), 0);
  // Common frames skip the general parser when the key is the default one (flow/fast_input.hpp).
  const bool fast_input = fast_input_applies(cache.config().key_options, aggregation != nullptr);
  const bool hash_sampling = config.sampler.mode == SamplerMode::hash;
  const std::uint64_t sampler_seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);

  auto ignore = [&](std::uint64_t bytes) {
    if (metering.ignored_packets == 0) metering.first_ignored = now;
    metering.last_ignored = now;
    ++metering.ignored_packets;
    metering.ignored_bytes += bytes;
  };
  auto export_ended = [&] {
    for (const FlowRecord& r : ended) exporter->add(r, now);
    ended.clear();
  };
  auto tick = [&] {
    metering.observed_flows = cache.stats().flows_created;
    metering.metered_packets = cache.stats().packets;
    metering.sampled_out = summary.sampled_out;
    exporter->tick(now, metering);
  };

  // Reads, parses and hashes up to kBatch packets of `from` (the source, with its concrete type
  // where that is known, so that its next() inlines here) into `batch`; prefetches their index
  // slots.
  bool more = true;
  auto fill = [&](auto& from, std::vector<BatchSlot>& batch) {
    std::size_t n = 0;
    while (more && n < kBatch) {
      const NextResult rc = from.next(frame);
      if (rc == NextResult::error) summary.capture_error = from.error();
      if (rc == NextResult::idle) continue;
      if (rc != NextResult::frame) {
        more = false;
        break;
      }
      ++summary.frames;
      if (!exporter) {
        // The sysUpTime clock starts with the capture.
        now = clock = frame.meta.timestamp;
        next_scan = now + kScanInterval;
        exporter.emplace(config, sink, now);
        exporter->set_interfaces(interfaces);
        tick();
      }
      // Captures are not always in order; the clock never runs backwards.
      clock = std::max(clock, frame.meta.timestamp);
      BatchSlot& b = batch[n++];
      frame.meta.timestamp = clock;
      b.in.timestamp = clock;
      b.wire_length = frame.wire_length;
      if (fast_input && fast_meter_input(link, frame.bytes, frame.wire_length, frame.meta, b.in)) {
        b.status = ParseStatus::ok;
      } else {
        b.status = parse_packet(link, frame.bytes, frame.wire_length, packet);
        if (b.status != ParseStatus::ok) {
          b.meter = false;
          continue;
        }
        if (aggregation) aggregation->apply(packet, summary.aggregation_usage);
        cache.input_of(packet, frame.meta, b.in);
      }
      b.meter = true;
      if (hash_sampling && !hash_selects(b.in.hash, sampler_seed, config.sampler.interval)) {
        b.meter = false;  // observed, deliberately not metered
        continue;
      }
      cache.prefetch_index(b.in.hash);
    }
    return n;
  };
  auto meter = [&](std::vector<BatchSlot>& batch, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      BatchSlot& b = batch[i];
      now = b.in.timestamp;
      if (b.status != ParseStatus::ok) {
        summary.parse.count(b.status);
        ignore(b.wire_length);
      } else if (!b.meter) {
        ++summary.sampled_out;
      } else if (cache.meter(b.in, ended, b.hint) != MeterResult::metered) {
        ignore(b.in.ip_length);
      }
      if (now >= next_scan) {
        cache.expire(now, ended);
        next_scan = now + kScanInterval;
        export_ended();
        tick();
      } else if (!ended.empty()) {
        export_ended();
      }
    }
  };

  auto* file = dynamic_cast<PcapFileSource*>(&source);
  constexpr std::size_t kStages = 4;
  std::array<std::vector<BatchSlot>, kStages> ring;
  std::array<std::size_t, kStages> count{};
  for (auto& b : ring) b.resize(kBatch);
  auto in_flight = [&](std::size_t round) {
    return count[(round + 1) % kStages] + count[(round + 2) % kStages] + count[(round + 3) % kStages] != 0;
  };
  for (std::size_t round = 0; more || in_flight(round); ++round) {
    std::vector<BatchSlot>& filled = ring[round % kStages];  // read now, index slots prefetched
    const std::size_t warming = (round + 3) % kStages;       // filled last round: entries prefetched
    const std::size_t addressing = (round + 2) % kStages;    // two rounds ago: IPv6 addresses prefetched
    const std::size_t ready = (round + 1) % kStages;         // three rounds ago: metered
    count[round % kStages] = file != nullptr ? fill(*file, filled) : fill(source, filled);
    for (std::size_t i = 0; i < count[warming]; ++i) {
      BatchSlot& b = ring[warming][i];
      if (b.meter) b.hint = cache.prefetch_entry(b.in.hash);
    }
    for (std::size_t i = 0; i < count[addressing]; ++i) {
      const BatchSlot& b = ring[addressing][i];
      if (b.meter) cache.prefetch_address(b.in, b.hint);
    }
    meter(ring[ready], count[ready]);
    count[ready] = 0;
  }
  if (exporter) {
    // Every flow goes straight from its entry to the encoder.
    cache.drain(FlowEndReason::forced_end, [&](const FlowRecord& r) { exporter->add(r, now); });
    exporter->finish(now);
    summary.encoder = exporter->stats();
    summary.sampler_flows_observed = exporter->sampling().flows_observed;
    summary.sampler_flows_selected = exporter->sampling().flows_selected;
  }
  summary.parse.by_status[0] = summary.frames - summary.parse.skipped();
  summary.cache = cache.stats();
  return summary;
}

}  // namespace netflowd
