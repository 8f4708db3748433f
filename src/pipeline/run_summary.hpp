// What a run did, in numbers that add up:
//   frames = metered + skipped (by parse status) + maxflows dropped + alloc dropped + queue drops
//            + own export + sampled_out (hash sampler)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
  NatEventCounters nat;  // live, natevents=1
  ExportTotals transport;
  std::uint64_t send_errors = 0;
  std::string capture_error;  // set when the capture ended with an error (e.g. truncated file)
  // Live capture only:
  std::uint64_t source_drops = 0;  // lost before netflowd saw them (NFLOG overrun, ring full)
  std::uint64_t queue_drops = 0;   // a worker's queue was full
  std::uint64_t own_export = 0;    // netflowd's own export datagrams seen by a capture, skipped
  std::uint64_t handed_on = 0;     // read by one worker, metered by the worker owning the flow
  // The destinations in use at the end, with their socket counters.
  std::vector<std::pair<std::string, SocketStats>> destinations;
  std::vector<std::uint64_t> aggregation_usage;  // per aggregation rule
  // Sampling: packets the hash sampler did not select (not metered), and the flows the
  // deterministic/random samplers saw and selected at export.
  std::uint64_t sampled_out = 0;
  std::uint64_t sampler_flows_observed = 0;
  std::uint64_t sampler_flows_selected = 0;

  std::uint64_t dropped() const {
    return parse.skipped() + cache.maxflows_dropped_packets + cache.alloc_dropped_packets + queue_drops;
  }
};

// A line for people ("netflowd: 1000 packets, ...").
std::string format_summary_human(const RunSummary& s);
// A line of key=value pairs for scripts ("netflowd: summary packets=... ..."). Keys are only
// ever added, never renamed.
std::string format_summary_machine(const RunSummary& s);

}  // namespace netflowd
