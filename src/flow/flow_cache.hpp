// The flow cache of one worker thread.
//
// Thread affinity: a FlowCache is owned and used by exactly one thread; it takes no locks.
// Workers shard flows between them by key hash, so no flow lives in two caches.
//
// Layout: flow entries live in a slab that grows in chunks (no allocation per packet once
// warm); an open-addressing index of 64-bit slots (hash tag | entry number) finds them with
// linear probing, so a lookup usually touches one index cache line and one entry. The packet
// path writes only the flow's own entry: expiry is an incremental sweep over the slab that
// visits every flow about once per kSweepPeriod, instead of an LRU list whose upkeep would
// touch two other flows' cache lines on every packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "flow/flow_record.hpp"
#include "packet/packet_meta.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd {

// The shortest sweep period: every flow is checked for expiry at least once per a quarter of
// the shorter timeout, and at least every 10 kSweepPeriod (in the time of the clock that
// drives the cache); an idle flow is exported at most that much after its timeout.
inline constexpr TimeUs kSweepPeriod = kUsPerSecond;

struct FlowCacheConfig {
  TimeUs active_timeout = seconds_to_us(1800);
  // 0 means "export every flow at every expiry scan" (upstream semantics).
  TimeUs inactive_timeout = seconds_to_us(15);
  std::uint64_t maxflows = 2'000'000;  // 0 = unlimited
  std::uint32_t hashsize = 65536;      // initial index slots; the index doubles when 70 % full
  // A flow is ended (reason active_timeout) before its packet or byte count would pass this,
  // so 32-bit counters (NetFlow v5) never wrap.
  std::uint64_t counter_limit = UINT64_MAX;
  FlowKeyOptions key_options;
};

struct FlowCacheStats {
  std::uint64_t packets = 0;  // metered into flows
  std::uint64_t bytes = 0;
  std::uint64_t flows_created = 0;
  std::uint64_t lookups_found = 0;
  std::uint64_t probes = 0;  // index slots visited that held another flow ("searched")
  std::uint64_t maxflows_dropped_packets = 0;
  std::uint64_t maxflows_dropped_bytes = 0;
  std::uint64_t peak_flows = 0;
  std::uint64_t index_grows = 0;

  FlowCacheStats& operator+=(const FlowCacheStats& o);
};

enum class MeterResult : std::uint8_t { metered, dropped_maxflows };

class FlowCache {
 public:
  explicit FlowCache(const FlowCacheConfig& config);
  FlowCache(const FlowCache&) = delete;
  FlowCache& operator=(const FlowCache&) = delete;
  ~FlowCache();

  // Meters one packet at time meta.timestamp. A flow this packet ends (active timeout passed,
  // counter limit reached) is appended to `ended` and the packet starts a new flow.
  MeterResult meter(const ParsedPacket& packet, const PacketMeta& meta, std::vector<FlowRecord>& ended);

  // Appends to `ended` every flow whose inactive or active timeout has passed at `now`.
  void expire(TimeUs now, std::vector<FlowRecord>& ended);

  // Appends every flow to `ended` with the given reason and empties the cache.
  void flush(std::vector<FlowRecord>& ended, FlowEndReason reason = FlowEndReason::forced_end);

  // Calls fn(const FlowRecord&) for every flow in the cache (the flow dump).
  template <typename Fn>
  void for_each(Fn fn) const;

  // Applies new timeouts, limits and index size. Key options must not change while flows
  // exist (flush first). A new hashsize rebuilds the index (never smaller than the flows need).
  void reconfigure(const FlowCacheConfig& config);

  // With several shards, maxflows limits their total (as upstream's global table): every
  // shard counts its flows in this shared counter too (touched when a flow is created or
  // removed, never per packet). nullptr: this cache alone.
  void share_flow_count(std::atomic<std::int64_t>* total) { shared_count_ = total; }

  std::size_t size() const { return size_; }
  std::size_t index_capacity() const { return index_.size(); }
  std::size_t memory_bytes() const;
  const FlowCacheStats& stats() const { return stats_; }
  const FlowCacheConfig& config() const { return config_; }

 private:
  struct Entry;
  static constexpr std::uint32_t kNil = UINT32_MAX;
  static constexpr std::uint32_t kChunkBits = 12;  // 4096 entries per slab chunk

  Entry& entry(std::uint32_t id);
  std::uint32_t allocate_entry();
  void release_entry(std::uint32_t id);
  std::uint32_t find(const FlowKey& key, std::uint64_t hash, std::size_t& slot);
  void insert_slot(std::uint64_t hash, std::uint32_t id);
  void erase_slot(std::size_t slot);
  std::size_t slot_of(std::uint32_t id, std::uint32_t tag) const;
  void grow_index();
  void rebuild_index(std::size_t slots);
  void sweep(std::uint32_t count, TimeUs now, std::vector<FlowRecord>& ended);
  void remove_flow(std::uint32_t id, FlowEndReason reason, std::vector<FlowRecord>& ended);
  void start_flow(Entry& e, const FlowKey& key, const ParsedPacket& p, const PacketMeta& meta);
  static void add_packet(FlowRecord& r, const ParsedPacket& p, TimeUs now);

  FlowCacheConfig config_;
  FlowCacheStats stats_;
  std::vector<std::uint64_t> index_;  // 0 = empty; else (hash high 32 bits << 32) | (id + 1)
  std::size_t index_mask_ = 0;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::uint32_t free_head_ = kNil;
  std::uint32_t entries_allocated_ = 0;
  std::uint32_t sweep_cursor_ = 0;
  TimeUs last_sweep_ = 0;
  std::size_t size_ = 0;
  std::atomic<std::int64_t>* shared_count_ = nullptr;
};

struct FlowCache::Entry {
  FlowRecord record;
  std::uint32_t tag = 0;  // high 32 bits of the key hash, to find the entry's index slot
  std::uint32_t next_free = kNil;
  bool used = false;
};

template <typename Fn>
void FlowCache::for_each(Fn fn) const {
  for (std::uint32_t id = 0; id < entries_allocated_; ++id) {
    const Entry& e = chunks_[id >> kChunkBits][id & ((1u << kChunkBits) - 1)];
    if (e.used) fn(e.record);
  }
}

}  // namespace netflowd
