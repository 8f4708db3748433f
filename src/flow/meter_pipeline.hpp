// Meters a stream of packets through one FlowCache so that the cache misses of consecutive
// lookups overlap instead of following one another.
//
// With tens of thousands of flows, a packet's index slot and flow entry are cache misses (an
// IPv6 flow's address record a third). Packets go through in batches of kBatch: a packet's
// index slot is prefetched as it enters; once the next batch is full, the entry its slot
// points to is prefetched; once one more is full, an IPv6 flow's address record; once one
// more is full, it is metered. Each step waits a whole batch for the memory it asked for,
// and the misses of a batch overlap. Packets are metered in the order they entered. Thread
// affinity: that of its cache.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include "flow/flow_cache.hpp"

namespace netflowd {

class MeterPipeline {
 public:
  static constexpr std::size_t kBatch = 8;

  explicit MeterPipeline(FlowCache& cache) : cache_(cache) {}

  // Where the next packet goes: fill it, then commit(). on_drop(const MeterInput&) is called
  // for each packet the cache refuses (maxflows).
  MeterInput& slot() { return batch_[current_][count_[current_]]; }
  template <typename OnDrop>
  void commit(std::vector<FlowRecord>& ended, OnDrop&& on_drop) {
    cache_.prefetch_index(slot().hash);
    if (++count_[current_] == kBatch) advance(ended, on_drop);
  }
  // Meters every packet still in the pipeline.
  template <typename OnDrop>
  void flush(std::vector<FlowRecord>& ended, OnDrop&& on_drop) {
    for (std::size_t i = 0; i < kStages; ++i) advance(ended, on_drop);
  }

 private:
  static constexpr std::size_t kStages = 4;

  // The batch filled three batches ago is metered, after the prefetches for the two filled
  // since: the address records of the one whose entries were prefetched at the last advance,
  // the entries of the one filled before the current one. The metered batch's place takes new
  // packets.
  template <typename OnDrop>
  void advance(std::vector<FlowRecord>& ended, OnDrop& on_drop) {
    const std::size_t ready = (current_ + 1) % kStages;
    const std::size_t addressing = (current_ + 2) % kStages;
    const std::size_t warming = (current_ + 3) % kStages;
    for (std::size_t i = 0; i < count_[warming]; ++i)
      hints_[warming][i] = cache_.prefetch_entry(batch_[warming][i].hash);
    for (std::size_t i = 0; i < count_[addressing]; ++i) {
      cache_.prefetch_address(batch_[addressing][i], hints_[addressing][i]);
    }
    for (std::size_t i = 0; i < count_[ready]; ++i) {
      if (cache_.meter(batch_[ready][i], ended, hints_[ready][i]) != MeterResult::metered) {
        on_drop(batch_[ready][i]);
      }
    }
    count_[ready] = 0;
    current_ = ready;
  }

  FlowCache& cache_;
  std::array<std::array<MeterInput, kBatch>, kStages> batch_;
  std::array<std::array<std::uint32_t, kBatch>, kStages> hints_{};  // prefetch_entry()'s, for meter()
  std::array<std::size_t, kStages> count_{};
  std::size_t current_ = 0;
};

}  // namespace netflowd
