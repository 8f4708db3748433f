// Meters a stream of packets through one FlowCache so that the cache misses of consecutive
// lookups overlap instead of following one another.
//
// With tens of thousands of flows, a packet's index slot and flow entry are cache misses.
// Packets go through in batches of kBatch: a packet's index slot is prefetched as it enters;
// once the next batch is full, the entry its slot points to is prefetched; once one more batch
// is full, it is metered. Each step waits a whole batch for the memory it asked for, and the
// misses of a batch overlap. Packets are metered in the order they entered. Thread affinity:
// that of its cache.
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
    for (int i = 0; i < 3; ++i) advance(ended, on_drop);
  }

 private:
  // The batch filled two batches ago (its entries prefetched at the last advance) is metered,
  // the entries of the one filled before the current one are prefetched, and the metered
  // one's place takes new packets.
  template <typename OnDrop>
  void advance(std::vector<FlowRecord>& ended, OnDrop& on_drop) {
    const std::size_t oldest = (current_ + 1) % 3;
    const std::size_t previous = (current_ + 2) % 3;
    for (std::size_t i = 0; i < count_[oldest]; ++i) {
      if (cache_.meter(batch_[oldest][i], ended, hints_[oldest][i]) == MeterResult::dropped_maxflows) {
        on_drop(batch_[oldest][i]);
      }
    }
    count_[oldest] = 0;
    for (std::size_t i = 0; i < count_[previous]; ++i)
      hints_[previous][i] = cache_.prefetch_entry(batch_[previous][i].hash);
    current_ = oldest;
  }

  FlowCache& cache_;
  std::array<std::array<MeterInput, kBatch>, 3> batch_;
  std::array<std::array<std::uint32_t, kBatch>, 3> hints_{};  // prefetch_entry()'s, for meter()
  std::array<std::size_t, 3> count_{};
  std::size_t current_ = 0;
};

}  // namespace netflowd
