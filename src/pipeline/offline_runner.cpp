#include "pipeline/offline_runner.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "export/netflow5/netflow5_encoder.hpp"
#include "packet/parser.hpp"

namespace netflowd {
namespace {

FlowCacheConfig cache_config(const Config& c) {
  FlowCacheConfig fc;
  fc.active_timeout = seconds_to_us(c.active_timeout);
  fc.inactive_timeout = seconds_to_us(c.inactive_timeout);
  fc.maxflows = c.maxflows;
  fc.hashsize = c.hashsize != 0 ? c.hashsize : 65536;
  fc.counter_limit = c.protocol == 5 ? Netflow5Encoder::kCounterLimit : UINT64_MAX;
  fc.key_options.mac = c.macaddress;
  fc.key_options.mpls_labels = static_cast<std::uint8_t>(c.mpls_depth);
  return fc;
}

ExportConfig export_config(const Config& c, TimeUs start) {
  ExportConfig e;
  e.protocol = c.protocol;
  e.engine_id = c.engine_id;
  e.boot_time = start;
  e.start_time = start;
  e.payload_size = c.payload_size;
  e.refresh_rate = c.refresh_rate;
  e.timeout_rate = c.timeout_rate;
  e.features.mac = c.macaddress;
  e.features.vlan = c.vlan;
  e.features.direction = c.direction;
  e.features.mpls_depth = static_cast<std::uint8_t>(c.mpls_depth);
  e.observation_domain_name = c.observation_domain_name;
  return e;
}

}  // namespace

RunSummary run_offline(CaptureSource& source, const Config& config, DatagramSink& sink,
                       const std::vector<InterfaceInfo>& interfaces) {
  RunSummary summary;
  FlowCache cache(cache_config(config));
  std::unique_ptr<FlowEncoder> encoder;
  std::vector<FlowRecord> ended;
  ended.reserve(1024);
  ParsedPacket packet;
  CapturedFrame frame;
  TimeUs now = 0;
  TimeUs next_scan = 0;
  const LinkType link = source.link_type();

  ExportContext context;
  context.interfaces = &interfaces;
  ExportStatistics& stats = context.stats;
  auto ignore = [&](std::uint64_t bytes) {
    if (stats.ignored_packets == 0) stats.first_ignored = now;
    stats.last_ignored = now;
    ++stats.ignored_packets;
    stats.ignored_bytes += bytes;
  };
  auto export_ended = [&] {
    for (const FlowRecord& r : ended) encoder->add(r, now);
    ended.clear();
  };
  auto tick = [&] {
    const ExportTotals t = sink.totals();
    stats.observed_flows = cache.stats().flows_created;
    stats.exported_messages = t.delivered;
    stats.exported_bytes = t.delivered_bytes;
    stats.exported_records = t.flow_records;
    stats.lost_flows = t.lost_flows;
    stats.lost_packets = t.lost_packets;
    stats.lost_bytes = t.lost_bytes;
    stats.first_lost = t.first_lost;
    stats.last_lost = t.last_lost;
    encoder->tick(now, context);
  };

  for (;;) {
    const NextResult rc = source.next(frame);
    if (rc == NextResult::error) summary.capture_error = source.error();
    if (rc != NextResult::frame) break;
    ++summary.frames;
    if (!encoder) {
      // The sysUptime clock starts with the capture.
      now = frame.meta.timestamp;
      next_scan = now + kScanInterval;
      encoder = make_flow_encoder(export_config(config, now), sink);
      tick();
    }
    // Captures are not always in order; the clock never runs backwards.
    now = std::max(now, frame.meta.timestamp);
    frame.meta.timestamp = now;

    const ParseStatus status = parse_packet(link, frame.bytes, frame.wire_length, packet);
    if (status != ParseStatus::ok) {
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
      const TimeUs pending = encoder->pending_since();
      if (pending >= 0 && now - pending >= kMaxPendingDelay) encoder->flush(now);
    } else if (!ended.empty()) {
      export_ended();
    }
  }
  if (encoder) {
    cache.flush(ended, FlowEndReason::forced_end);
    export_ended();
    encoder->flush(now);
    summary.encoder = encoder->stats();
  }
  summary.parse.by_status[0] = summary.frames - summary.parse.skipped();
  summary.cache = cache.stats();
  return summary;
}

}  // namespace netflowd
