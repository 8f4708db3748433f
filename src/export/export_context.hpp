// What an encoder needs to know besides flow records, for options records (reference 2.11):
// statistics of the metering and exporting processes and the interface table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/interface_info.hpp"
#include "common/time.hpp"

namespace netflowd {

struct ExportStatistics {
  std::uint64_t observed_flows = 0;   // flows created by metering
  std::uint64_t ignored_packets = 0;  // frames not metered (malformed, maxflows, ...)
  std::uint64_t ignored_bytes = 0;
  TimeUs first_ignored = 0;
  TimeUs last_ignored = 0;
  std::uint64_t exported_messages = 0;  // datagrams sent (to at least one destination)
  std::uint64_t exported_bytes = 0;
  std::uint64_t exported_records = 0;  // flow records in those datagrams
  std::uint64_t lost_flows = 0;        // in datagrams that reached no destination
  std::uint64_t lost_packets = 0;
  std::uint64_t lost_bytes = 0;
  TimeUs first_lost = 0;
  TimeUs last_lost = 0;
  // The sampler's selector statistics (IPFIX SEL_STAT), since the sampler was configured.
  std::uint64_t selector_flows_observed = 0;  // deterministic/random only
  std::uint64_t selector_flows_selected = 0;
  std::uint64_t selector_packets_observed = 0;
  std::uint64_t selector_packets_selected = 0;
};

struct ExportContext {
  ExportStatistics stats;
  const std::vector<InterfaceInfo>* interfaces = nullptr;
  std::uint64_t interfaces_generation = 0;  // changes whenever the interface table changes
};

}  // namespace netflowd
