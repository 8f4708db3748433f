#include "pipeline/offline_runner.hpp"

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "packet/parser.hpp"
#include "pipeline/export_stage.hpp"
#include "pipeline/flow_cache_config.hpp"

namespace netflowd {

RunSummary run_offline(CaptureSource& source, const Config& config, DatagramSink& sink,
                       const std::vector<InterfaceInfo>& interfaces) {
  RunSummary summary;
  FlowCache cache(flow_cache_config(config));
  std::optional<ExportStage> exporter;
  std::vector<FlowRecord> ended;
  ended.reserve(1024);
  ParsedPacket packet;
  CapturedFrame frame;
  TimeUs now = 0;
  TimeUs next_scan = 0;
  MeteringTotals metering;
  const LinkType link = source.link_type();
  const AggregationRules* aggregation = config.aggregation_rules.get();
  if (aggregation) summary.aggregation_usage.assign(aggregation->size(), 0);
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

  for (;;) {
    const NextResult rc = source.next(frame);
    if (rc == NextResult::error) summary.capture_error = source.error();
    if (rc == NextResult::idle) continue;
    if (rc != NextResult::frame) break;
    ++summary.frames;
    if (!exporter) {
      // The sysUpTime clock starts with the capture.
      now = frame.meta.timestamp;
      next_scan = now + kScanInterval;
      exporter.emplace(config, sink, now);
      exporter->set_interfaces(interfaces);
      tick();
    }
    // Captures are not always in order; the clock never runs backwards.
    now = std::max(now, frame.meta.timestamp);
    frame.meta.timestamp = now;

    const ParseStatus status = parse_packet(link, frame.bytes, frame.wire_length, packet);
    if (status == ParseStatus::ok && aggregation) aggregation->apply(packet, summary.aggregation_usage);
    if (status == ParseStatus::ok && hash_sampling &&
        !hash_selects(hash_flow_key(make_flow_key(packet, frame.meta.in_ifindex, cache.config().key_options)),
                      sampler_seed, config.sampler.interval)) {
      ++summary.sampled_out;  // observed, deliberately not metered
    } else if (status != ParseStatus::ok) {
      summary.parse.count(status);
      ignore(frame.wire_length);
    } else if (cache.meter(packet, frame.meta, ended) == MeterResult::dropped_maxflows) {
      ignore(packet.ip_length);
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
  if (exporter) {
    cache.flush(ended, FlowEndReason::forced_end);
    export_ended();
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
