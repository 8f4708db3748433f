// What a run did, in numbers that add up:
//   frames = metered + skipped (by parse status) + maxflows_dropped
#pragma once

#include <cstdint>
#include <string>

#include "export/flow_encoder.hpp"
#include "flow/flow_cache.hpp"
#include "packet/parse_status.hpp"
#include "transport/udp_exporter.hpp"

namespace netflowd {

struct RunSummary {
  std::uint64_t frames = 0;
  ParseCounters parse;
  FlowCacheStats cache;
  EncoderStats encoder;
  ExportTotals transport;
  std::uint64_t send_errors = 0;
  std::string capture_error;  // set when the capture ended with an error (e.g. truncated file)

  std::uint64_t dropped() const { return parse.skipped() + cache.maxflows_dropped_packets; }
};

// A line for people ("netflowd: 1000 packets, ...").
std::string format_summary_human(const RunSummary& s);
// A line of key=value pairs for scripts ("netflowd: summary packets=... ..."). Keys are only
// ever added, never renamed.
std::string format_summary_machine(const RunSummary& s);

}  // namespace netflowd
