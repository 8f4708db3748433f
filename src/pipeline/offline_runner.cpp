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
  return fc;
}

}  // namespace

RunSummary run_offline(CaptureSource& source, const Config& config, DatagramSink& sink) {
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

  auto export_ended = [&] {
    for (const FlowRecord& r : ended) encoder->add(r, now);
    ended.clear();
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
      encoder = make_flow_encoder(ExportConfig{config.protocol, config.engine_id, now}, sink);
    }
    // Captures are not always in order; the clock never runs backwards.
    now = std::max(now, frame.meta.timestamp);
    frame.meta.timestamp = now;

    const ParseStatus status = parse_packet(link, frame.bytes, frame.wire_length, packet);
    if (status != ParseStatus::ok) {
      summary.parse.count(status);
    } else {
      cache.meter(packet, frame.meta, ended);
    }
    if (now >= next_scan) {
      cache.expire(now, ended);
      next_scan = now + kScanInterval;
      export_ended();
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
