// The flow cache of one worker thread.
//
// Thread affinity: a FlowCache is owned and used by exactly one thread; it takes no locks.
// Workers shard flows between them by key hash, so no flow lives in two caches.
//
// Layout: flow entries live in a slab that grows in chunks (no allocation per packet once
// warm); an open-addressing index of 32-bit slots (distance from home | hash tag | entry
// number) finds them with linear probing, so a lookup usually touches one index cache line
// and one entry. An entry is
// one 64-byte cache line holding everything a packet reads or writes: the key in three words
// (both IPv4 addresses in one; for IPv6 the number of a 32-byte address record, kept apart
// and read only when the rest of the key matched), 64-bit bytes, 32-bit packets, the last
// packet time as an offset from the first, TCP flags and options, IPv4 options or IPv6
// extension headers. What only the first packet sets (output interface, SPI, creation number)
// lives in a parallel 12-byte array, only where some flow has any of it; MAC addresses, MPLS
// labels and bridge ports in a parallel 32-byte extension only when they are enabled. With
// the index that is 72-80 bytes per IPv4 flow (the index half to a quarter full) and 32 more
// per IPv6 flow.
// FlowRecords are made from entries when flows end (or are dumped).
//
// The packet path writes only the flow's own entry: expiry is an incremental sweep over the
// slab, instead of an LRU list whose upkeep would touch two other flows' cache lines on
// every packet. Callers that have many packets at hand hash them first and prefetch
// (prefetch_index, then prefetch_entry) so that the cache misses of several lookups overlap.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/huge_pages.hpp"
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
  std::uint32_t hashsize = 65536;      // initial index slots; the index doubles when half full
  // A flow is ended (reason active_timeout) before its packet or byte count would pass this,
  // so 32-bit counters (NetFlow v5) never wrap.
  std::uint64_t counter_limit = UINT64_MAX;
  FlowKeyOptions key_options;
  // Keep the bridge ports (PacketMeta::phys_*) of each flow; they cost an extension per entry.
  bool keep_physdev = false;
  // Number the flows as they are created (FlowRecord::creation_seq, from 1; 0 while off), for
  // deterministic flow sampling: as upstream, only while that sampler is on.
  bool number_flows = false;
};

// A flow is split (reason active_timeout) before it lasts longer than this, whatever
// active_timeout says: entries keep the last packet's time as a 32-bit microsecond offset.
// Longer than the 60-minute maximum of classic NetFlow active timeouts.
inline constexpr TimeUs kMaxFlowSpan = TimeUs{UINT32_MAX};
// Likewise before a flow's packet count passes 32 bits (bytes are counted in 64 bits).
inline constexpr std::uint64_t kMaxFlowPackets = UINT32_MAX;

// One packet as the flow cache meters it: its packed key and the key's hash_flow_key(), and
// what the packet adds to its flow. 128 bytes, no pointers: the live pipeline hands packets to
// the worker that owns their flow in this form, so the key is packed and hashed only once.
struct MeterInput {
  PackedFlowKey key;
  std::uint64_t hash = 0;
  TimeUs timestamp = 0;
  std::uint64_t tcp_options = 0;
  std::uint32_t ip_length = 0;
  std::uint32_t l3_options = 0;  // ParsedPacket::ipv4_options | ParsedPacket::ipv6_ext
  std::uint32_t out_ifindex = kNoInterface;
  std::uint32_t flow_label = 0;
  std::uint32_t ipsec_spi = 0;
  std::uint32_t phys_in_ifindex = kNoInterface;
  std::uint32_t phys_out_ifindex = kNoInterface;
  std::uint8_t tcp_flags = 0;
  FlowDirection direction = FlowDirection::ingress;
  std::uint8_t src_prefix = 0;
  std::uint8_t dst_prefix = 0;
};
static_assert(sizeof(MeterInput) == 128, "MeterInput is queued per packet: keep it at two cache lines");

// Fills `in` from a parsed packet and its capture facts, with the key made under `options`.
void make_meter_input(const ParsedPacket& packet, const PacketMeta& meta, const FlowKeyOptions& options,
                      MeterInput& in);

struct FlowCacheStats {
  std::uint64_t packets = 0;  // metered into flows
  std::uint64_t bytes = 0;
  std::uint64_t flows_created = 0;
  std::uint64_t lookups_found = 0;
  std::uint64_t probes = 0;  // index slots visited that held another flow ("searched")
  std::uint64_t maxflows_dropped_packets = 0;
  std::uint64_t maxflows_dropped_bytes = 0;
  // Packets of new flows refused because the memory for them was not granted (upstream's
  // "alloc" errors): the slab, the index or a parallel array could not grow.
  std::uint64_t alloc_dropped_packets = 0;
  std::uint64_t alloc_dropped_bytes = 0;
  std::uint64_t peak_flows = 0;
  std::uint64_t index_grows = 0;

  FlowCacheStats& operator+=(const FlowCacheStats& o);
};

// dropped_alloc: a new flow the system gave no memory for; the packet is counted
// (FlowCacheStats::alloc_dropped_*) and the cache stays as it was. Packets of flows already in
// the cache are always metered.
enum class MeterResult : std::uint8_t { metered, dropped_maxflows, dropped_alloc };

class FlowCache {
 public:
  // Throws SetupError, naming hashsize, when the index cannot be allocated.
  explicit FlowCache(const FlowCacheConfig& config);
  FlowCache(const FlowCache&) = delete;
  FlowCache& operator=(const FlowCache&) = delete;
  ~FlowCache();

  // Meters one packet at time meta.timestamp. A flow this packet ends (active timeout passed,
  // counter limit reached) is appended to `ended` and the packet starts a new flow.
  MeterResult meter(const ParsedPacket& packet, const PacketMeta& meta, std::vector<FlowRecord>& ended) {
    MeterInput in;
    input_of(packet, meta, in);
    return meter(in, ended);
  }
  // The same for a packet already in its metering form (batched lookups, queued packets).
  // `hint`: what prefetch_entry() returned for it (kNoHint if nothing was prefetched).
  static constexpr std::uint32_t kNoHint = UINT32_MAX;
  MeterResult meter(const MeterInput& in, std::vector<FlowRecord>& ended, std::uint32_t hint = kNoHint);

  // The packet's metering form under this cache's key options.
  void input_of(const ParsedPacket& packet, const PacketMeta& meta, MeterInput& in) const {
    make_meter_input(packet, meta, config_.key_options, in);
  }
  // Prefetch hints for a batch: first the index slot of each hash, then (once those have had
  // time to arrive) the entry the slot points to. Neither changes anything. Always inlined:
  // GCC takes a function that does nothing but prefetch for one without effects, and drops
  // calls to it that it does not inline.
  [[gnu::always_inline]] void prefetch_index(std::uint64_t hash) const { __builtin_prefetch(&index_[home_of(hash)]); }
  // Returns where it found the flow's slot, for meter() to look first (the index may have
  // changed by then: meter() checks the slot's key), or kNoHint: a new flow, or one whose slot
  // lies farther than a probe looks ahead here (rare below the maximum load).
  [[gnu::always_inline]] std::uint32_t prefetch_entry(std::uint64_t hash) const {
    std::size_t i = home_of(hash);
    for (int probe = 0; probe < kPrefetchProbes; ++probe, i = (i + 1) & index_mask_) {
      const std::uint32_t s = index_[i];
      if (s == 0) return kNoHint;
      if (tag_matches(s, hash)) {
        __builtin_prefetch(&entry(id_of(s)), 0);
        return static_cast<std::uint32_t>(i);
      }
    }
    return kNoHint;
  }

  // Once the entry that prefetch_entry() fetched has arrived, for an IPv6 packet: the address
  // record the entry points to, which the key comparison reads next (a third miss, after the
  // index slot and the entry). `hint` as prefetch_entry() returned it; a slot that changed
  // since costs only a useless prefetch.
  [[gnu::always_inline]] void prefetch_address(const MeterInput& in, std::uint32_t hint) const;

  // Appends to `ended` every flow whose inactive or active timeout has passed at `now`.
  void expire(TimeUs now, std::vector<FlowRecord>& ended);

  // Appends every flow to `ended` with the given reason and empties the cache.
  void flush(std::vector<FlowRecord>& ended, FlowEndReason reason = FlowEndReason::forced_end);

  // Ends every flow with `reason`, calling fn(const FlowRecord&) for each, and empties the cache:
  // the end of a capture file. Unlike flush(), no record is stored: one is made in place per
  // flow and handed over (fn must copy what it keeps).
  template <typename Fn>
  void drain(FlowEndReason reason, Fn fn);

  // Calls fn(const FlowRecord&) for every flow in the cache (the flow dump; records are made
  // on the fly, so fn must copy what it keeps).
  template <typename Fn>
  void for_each(Fn fn) const;

  // Applies new timeouts, limits and index size. Key options must not change while flows
  // exist (flush first). A new hashsize rebuilds the index (never smaller than the flows need).
  // Never throws for want of memory; what it could not apply is in the result:
  //   index_kept: the new index could not be allocated; everything else is applied, the old
  //     index (and hashsize) kept, every flow still in it;
  //   unchanged: the extensions that new key options or keep_physdev need could not be
  //     allocated; nothing is applied.
  enum class Reconfigured : std::uint8_t { applied, index_kept, unchanged };
  [[nodiscard]] Reconfigured reconfigure(const FlowCacheConfig& config);

  // With several shards, maxflows limits their total (as upstream's global table): every
  // shard counts its flows in this shared counter too (touched when a flow is created or
  // removed, never per packet). nullptr: this cache alone.
  void share_flow_count(std::atomic<std::int64_t>* total) { shared_count_ = total; }

  std::size_t size() const { return size_; }
  std::size_t index_capacity() const { return index_size_; }
  std::size_t memory_bytes() const;
  const FlowCacheStats& stats() const { return stats_; }
  const FlowCacheConfig& config() const { return config_; }

 private:
  struct Entry;
  struct Rare;
  struct Address6;
  struct Extension;
  static constexpr std::uint32_t kNil = UINT32_MAX;
  // Set in Entry::tags, a bit tag_word() never uses, when the addresses are in an Address6
  // record.
  static constexpr std::uint64_t kWideAddresses = std::uint64_t{1} << 63;
  // The Address6 record number in Entry::addresses (the high half holds the flow label).
  static std::uint32_t record_number(std::uint64_t addresses) { return static_cast<std::uint32_t>(addresses); }
  // How many slots prefetch_entry() looks at: with four, one lookup in a few dozen at 1M flows
  // (index half full) found its slot beyond them and waited for its entry.
  static constexpr int kPrefetchProbes = 16;
  // Entries per slab chunk: one 2 MiB huge page (see common/huge_pages.hpp). The parallel
  // arrays, and the IPv6 address records, are chunked the same way.
  static constexpr std::uint32_t kChunkEntries = kHugePage / 64;

  template <typename T>
  using Chunks = std::vector<std::unique_ptr<T[], HugeDeleter>>;
  // Entry number `id` of one of the parallel chunk arrays.
  template <typename T>
  static T& at(const Chunks<T>& chunks, std::uint32_t id) {
    return chunks[id / kChunkEntries][id % kChunkEntries];
  }
  Entry& entry(std::uint32_t id) { return at(chunks_, id); }
  const Entry& entry(std::uint32_t id) const { return at(chunks_, id); }
  // Entry `id`'s first-packet facts, or nullptr where its chunk has none (all 0).
  const Rare* rare_of(std::uint32_t id) const {
    const auto& chunk = rare_chunks_[id / kChunkEntries];
    return chunk != nullptr ? &chunk[id % kChunkEntries] : nullptr;
  }
  Address6& address6(std::uint32_t number) { return at(address6_chunks_, number); }
  const Address6& address6(std::uint32_t number) const { return at(address6_chunks_, number); }
  Extension& extension(std::uint32_t id) { return at(ext_chunks_, id); }
  const Extension& extension(std::uint32_t id) const { return at(ext_chunks_, id); }
  // An index slot: 0 empty; else, from the top: how far the slot lies past its home position
  // (kDispBits bits, kDispUnknown for that far or farther), a tag (bits of the hash's low
  // half), and the entry number + 1 in the low bits of id_mask_. The home position comes from the
  // hash's high half, which the slot does not keep: growing the index rehashes the flows'
  // keys, and a deletion that shifts a slot with an unknown distance back rehashes its key.
  static constexpr std::uint32_t kDispBits = 3;
  static constexpr std::uint32_t kDispShift = 32 - kDispBits;
  static constexpr std::uint32_t kDispUnknown = (1u << kDispBits) - 1;
  static constexpr std::uint32_t kBelowDisp = (1u << kDispShift) - 1;  // the tag and entry-number bits
  std::size_t home_of(std::uint64_t hash) const { return static_cast<std::uint32_t>(hash >> 32) & index_mask_; }
  static std::uint32_t with_disp(std::uint32_t slot, std::size_t disp) {
    return (slot & kBelowDisp) | static_cast<std::uint32_t>(std::min<std::size_t>(disp, kDispUnknown)) << kDispShift;
  }
  // The slot of entry `id` at index position `at`.
  std::uint32_t make_slot(std::uint64_t hash, std::uint32_t id, std::size_t at) const {
    return with_disp((static_cast<std::uint32_t>(hash) & tag_mask_) | (id + 1), (at - home_of(hash)) & index_mask_);
  }
  bool tag_matches(std::uint32_t slot, std::uint64_t hash) const {
    return ((slot ^ static_cast<std::uint32_t>(hash)) & tag_mask_) == 0;
  }
  std::uint32_t id_of(std::uint32_t slot) const { return (slot & id_mask_) - 1; }
  // The most entries a cache has: whole chunks whose numbers + 1 fit below the distance bits
  // (536,838,144, some 40 GB of flows); new flows beyond it are refused as beyond maxflows.
  static constexpr std::uint32_t kMaxEntries = ((1u << kDispShift) / kChunkEntries - 1) * kChunkEntries;
  std::uint64_t hash_at(std::uint32_t id) const { return hash_flow_key(key_at(id)); }
  // The home position of the slot `slot` at position `at`.
  std::size_t home_at(std::size_t at, std::uint32_t slot) const {
    const std::uint32_t disp = slot >> kDispShift;
    return disp != kDispUnknown ? (at - disp) & index_mask_ : home_of(hash_at(id_of(slot)));
  }
  void widen_ids();
  bool key_matches(std::uint32_t id, const PackedFlowKey& key) const;
  PackedFlowKey key_at(std::uint32_t id) const;
  void apply_config();
  // Entries have extensions (MAC/MPLS key words or bridge ports kept) under `c`.
  static bool wide(const FlowCacheConfig& c) {
    return c.key_options.mac || c.key_options.mpls_labels != 0 || c.keep_physdev;
  }
  // Room for one more chunk of entries: allocates it (and its extension when wide_) or throws
  // std::bad_alloc with nothing changed.
  void add_chunk();
  // Makes sure a new flow of `in` can be stored without allocating: the entry the next new
  // flow takes, its first-packet facts (when it has any) and, for a wide key, an address
  // record. False when the memory for one of them was not granted.
  bool reserve_new_flow(const MeterInput& in) noexcept;
  // Makes sure entry `id` can keep `in`'s first-packet facts; false without memory for them.
  bool reserve_rare(std::uint32_t id, const MeterInput& in) noexcept;
  bool has_rare_facts(const MeterInput& in) const {
    return in.out_ifindex != kNoInterface || in.ipsec_spi != 0 || config_.number_flows;
  }
  // Grows the index, which is at its load limit, for one more flow. False when it cannot (no
  // memory) and is already at its emergency load.
  bool make_index_room();
  // Counts a packet of a new flow refused for want of memory.
  MeterResult refuse_for_memory(const MeterInput& in);
  // Needs what reserve_new_flow() made sure of.
  std::uint32_t allocate_entry();
  void release_entry(std::uint32_t id);
  std::uint32_t allocate_address6();
  std::uint32_t find(const PackedFlowKey& key, std::uint64_t hash, std::size_t& slot, std::uint32_t hint = kNoHint);
  void erase_slot(std::size_t slot);
  std::size_t slot_of(std::uint32_t id, std::uint64_t hash) const;
  // After every flow ended (flush, drain): no flow left, the slab reused from its start.
  void forget_all();
  // Replaces the index by `fresh`, of `slots` slots, filled from the slab.
  void rebuild_index(std::unique_ptr<std::uint32_t[], HugeDeleter> fresh, std::size_t slots);
  void sweep(std::uint32_t count, TimeUs now, std::vector<FlowRecord>& ended);
  void end_flow(std::uint32_t id, FlowEndReason reason, std::vector<FlowRecord>& ended) const;
  void remove_flow(std::uint32_t id, std::uint64_t hash, FlowEndReason reason, std::vector<FlowRecord>& ended);
  // A new flow in entry `id`; with `same_key`, the entry already holds the packet's key (a
  // flow that ended on the packet path is followed by the next one of the same key).
  void start_flow(std::uint32_t id, const MeterInput& in, bool same_key);
  FlowRecord record_of(std::uint32_t id) const {
    FlowRecord r;
    record_of(id, r);
    return r;
  }
  // Fills `r` (default-constructed) in place: end_flow() writes straight into the ended vector.
  void record_of(std::uint32_t id, FlowRecord& r) const;

  FlowCacheConfig config_;
  FlowCacheStats stats_;
  std::unique_ptr<std::uint32_t[], HugeDeleter> index_;  // see make_slot
  std::size_t index_size_ = 0;
  std::size_t index_mask_ = 0;
  // Entry numbers + 1 take the low bits of a slot (id_mask_): enough for every entry of the
  // slab (widen_ids when it grows past them); the tag has what the distance leaves, 12 bits at
  // 65,536 flows, 8 at 1M.
  std::uint32_t id_mask_ = 0;
  std::uint32_t tag_mask_ = kBelowDisp;
  Chunks<Entry> chunks_;
  Chunks<Rare> rare_chunks_;          // parallel to chunks_
  Chunks<Address6> address6_chunks_;  // IPv6 address records, numbered on their own
  Chunks<Extension> ext_chunks_;      // parallel to chunks_ when wide_
  bool wide_ = false;                 // entries have extensions (MAC/MPLS key words or bridge ports kept)
  TimeUs max_span_ = 0;               // min(active_timeout, kMaxFlowSpan)
  std::uint64_t packet_limit_ = 0;    // min(counter_limit, kMaxFlowPackets)
  std::uint32_t free_head_ = kNil;
  std::uint32_t entries_allocated_ = 0;
  std::uint32_t free_address6_ = kNil;
  std::uint32_t addresses6_allocated_ = 0;
  std::uint32_t sweep_cursor_ = 0;
  TimeUs last_sweep_ = 0;
  std::size_t size_ = 0;
  std::atomic<std::int64_t>* shared_count_ = nullptr;
};

// One cache line: a lookup touches the index line and this line only (for IPv6 also the
// address record, once the rest of the key matched). 96-byte entries took two lines, and
// the second line's miss was a third of a live AF_PACKET packet's cost.
struct alignas(64) FlowCache::Entry {
  // The key (PackedFlowKey::core): `addresses` holds both IPv4 addresses (source in the low
  // half), or, when kWideAddresses is set in `tags` (always for IPv6), the number of the
  // Address6 record in the low half and the flow label in the high half. A free entry
  // (packets 0) keeps the next free entry number in `addresses`.
  std::uint64_t addresses;
  std::uint64_t ports;  // core[4]
  std::uint64_t tags;   // core[5], and kWideAddresses
  std::uint64_t bytes;
  TimeUs first;
  std::uint32_t last_offset;  // microseconds from the first to the last packet
  std::uint32_t packets;      // 0: a free entry
  std::uint64_t tcp_options;
  std::uint32_t l3_options;  // FlowRecord::ipv4_options for IPv4, ipv6_ext for IPv6
  std::uint8_t tcp_flags;
  FlowDirection direction;
  std::uint8_t src_prefix;
  std::uint8_t dst_prefix;
};

// What a flow keeps that no packet after its first touches: in a parallel array, read only
// when the flow is exported. A chunk of it exists only once one of its flows had an output
// interface, an SPI or a number (FlowCacheConfig::number_flows); without one, all are 0.
struct FlowCache::Rare {
  std::uint32_t out_ifindex;
  std::uint32_t ipsec_spi;
  std::uint32_t creation_seq;
};

// The addresses of a key that does not fit one word (IPv6): PackedFlowKey::core[0..3]. A
// free record keeps the next free record number in its first word.
struct FlowCache::Address6 {
  std::array<std::uint64_t, 4> words;
};

struct FlowCache::Extension {
  std::array<std::uint64_t, 3> key;  // PackedFlowKey::ext
  std::uint32_t phys_in_ifindex;
  std::uint32_t phys_out_ifindex;
};

inline void FlowCache::prefetch_address(const MeterInput& in, std::uint32_t hint) const {
  if (flow_key_detail::family_of(in.key.core[5]) != IpFamily::v6 || hint >= index_size_) return;
  const std::uint32_t s = index_[hint];
  if (s == 0) return;  // the index changed: whatever the slot holds now is a live flow
  const Entry& e = entry(id_of(s));
  if ((e.tags & kWideAddresses) != 0) __builtin_prefetch(&address6(record_number(e.addresses)));
}

template <typename Fn>
void FlowCache::drain(FlowEndReason reason, Fn fn) {
  // Every flow goes, so the index is simply cleared, instead of erasing one random slot per flow.
  std::fill(index_.get(), index_.get() + index_size_, 0);
  FlowRecord r;
  r.end_reason = reason;
  for (std::uint32_t id = 0; id < entries_allocated_; ++id) {
    Entry& e = entry(id);
    if (e.packets == 0) continue;
    record_of(id, r);
    e.packets = 0;
    fn(r);
  }
  forget_all();
}

template <typename Fn>
void FlowCache::for_each(Fn fn) const {
  for (std::uint32_t id = 0; id < entries_allocated_; ++id) {
    if (entry(id).packets != 0) fn(record_of(id));
  }
}

}  // namespace netflowd
