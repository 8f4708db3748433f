// Per-key totals of every counted packet, written as the --expected CSV.
#pragma once

#include "model.hpp"

#include <string>
#include <unordered_map>

namespace nfgen {

struct Counters {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept;
};

class ExpectedFlows {
 public:
  void add(const FlowKey& key, std::uint64_t bytes) {
    Counters& c = totals_[key];
    ++c.packets;
    c.bytes += bytes;
  }
  std::size_t size() const { return totals_.size(); }
  // Header line, then one line per key in key order; throws on I/O error.
  void write_csv(const std::string& path) const;

 private:
  std::unordered_map<FlowKey, Counters, FlowKeyHash> totals_;
};

}  // namespace nfgen
