// The generation loop: interleaves packets of many live flows (plus skipped
// frames) on a monotonically advancing clock and writes them out.
#pragma once

#include "expected_flows.hpp"
#include "model.hpp"
#include "pcap_writer.hpp"
#include "skipped_frames.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace nfgen {

struct TrafficOptions {
  std::uint64_t packets = 1000000;
  std::uint32_t flows = 100000;  // live flow slots
  std::uint64_t seed = 1;
  LinkType link = LinkType::en10mb;
  std::uint64_t start_time_s = 1700000000;
  std::string labels_path;  // optional: one "frame,label" line per frame, for debugging
};

struct TrafficSummary {
  std::uint64_t packets = 0;
  std::uint64_t counted = 0;
  std::uint64_t non_ip = 0;
  std::uint64_t malformed = 0;
  std::uint64_t generated_flows = 0;
  std::uint64_t first_ts_us = 0;
  std::uint64_t last_ts_us = 0;
  std::array<std::uint64_t, skip_kind_count> skipped_by_kind{};
};

TrafficSummary generate_traffic(const TrafficOptions& opts, PcapWriter& pcap, ExpectedFlows& expected);

}  // namespace nfgen
