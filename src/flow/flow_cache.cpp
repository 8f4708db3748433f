#include "flow/flow_cache.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/error.hpp"

namespace netflowd {

namespace {

constexpr double kMaxLoad = 0.5;
// How full the index may get when it cannot grow for want of memory: lookups get slower (about
// 8 probes for a new key instead of 2), but flows are still taken in until then.
constexpr double kEmergencyLoad = 0.75;

// The 32-byte parallel arrays take half a huge page per chunk: from the heap, not a huge page
// of which half would stay unused.
constexpr Paging kHalfChunk = Paging::heap;

// Index slots: every packet reads one at random, so from 256 KiB on the index takes a whole
// huge page (one TLB entry) even while it is smaller.
std::unique_ptr<std::uint32_t[], HugeDeleter> allocate_index(std::size_t slots) {
  return allocate_table<std::uint32_t>(
      slots, slots * sizeof(std::uint32_t) >= kHugePage / 8 ? Paging::huge : Paging::automatic);
}

// Both addresses of a key that is not IPv6 in one word, source in the low half, when each
// fits in 32 bits (the 12 bytes after it zero, as for every IPv4 key).
bool narrow_addresses(const PackedFlowKey& key, std::uint64_t& word) {
  using flow_key_detail::kIpv4Shift;
  constexpr std::uint64_t address_bits = std::uint64_t{UINT32_MAX} << kIpv4Shift;
  const auto& c = key.core;
  if ((((c[0] | c[2]) & ~address_bits) | c[1] | c[3]) != 0 || flow_key_detail::family_of(c[5]) == IpFamily::v6) {
    return false;
  }
  word = (c[0] >> kIpv4Shift) | ((c[2] >> kIpv4Shift) << 32);
  return true;
}

}  // namespace

FlowCacheStats& FlowCacheStats::operator+=(const FlowCacheStats& o) {
  packets += o.packets;
  bytes += o.bytes;
  flows_created += o.flows_created;
  lookups_found += o.lookups_found;
  probes += o.probes;
  maxflows_dropped_packets += o.maxflows_dropped_packets;
  maxflows_dropped_bytes += o.maxflows_dropped_bytes;
  alloc_dropped_packets += o.alloc_dropped_packets;
  alloc_dropped_bytes += o.alloc_dropped_bytes;
  peak_flows += o.peak_flows;
  index_grows += o.index_grows;
  return *this;
}

void make_meter_input(const ParsedPacket& p, const PacketMeta& meta, const FlowKeyOptions& options, MeterInput& in) {
  pack_flow_key(p, meta.in_ifindex, options, in.key);
  in.hash = hash_flow_key(in.key);
  in.timestamp = meta.timestamp;
  in.tcp_options = p.tcp_options;
  in.ip_length = p.ip_length;
  in.l3_options = p.ipv4_options | p.ipv6_ext;
  in.out_ifindex = meta.out_ifindex;
  in.flow_label = p.flow_label;
  in.ipsec_spi = p.ipsec_spi;
  in.phys_in_ifindex = meta.phys_in_ifindex;
  in.phys_out_ifindex = meta.phys_out_ifindex;
  in.tcp_flags = p.tcp_flags;
  in.direction = meta.direction;
  in.src_prefix = p.src_prefix;
  in.dst_prefix = p.dst_prefix;
}

FlowCache::FlowCache(const FlowCacheConfig& config) : config_(config) {
  static_assert(sizeof(Entry) == 64, "a flow entry is one cache line (see the header and kChunkEntries)");
  static_assert(std::bit_width(std::uint64_t{kMaxEntries}) <= kDispShift, "entry numbers + 1 fit their field");
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(config.hashsize, 256));
  try {
    index_ = allocate_index(slots);
  } catch (const std::bad_alloc&) {
    throw SetupError("hashsize=" + std::to_string(config.hashsize) + ": not enough memory for a flow index of " +
                     std::to_string(slots * sizeof(std::uint32_t) >> 20) + " MiB");
  }
  index_size_ = slots;
  index_mask_ = slots - 1;
  apply_config();
}

FlowCache::~FlowCache() = default;

void FlowCache::apply_config() {
  max_span_ = std::min(config_.active_timeout, kMaxFlowSpan);
  packet_limit_ = std::min(config_.counter_limit, kMaxFlowPackets);
  wide_ = wide(config_);
}

namespace {

// Room for one more element, so that the push_back that follows cannot throw.
template <typename V>
void reserve_one(V& v) {
  if (v.size() == v.capacity()) v.reserve(std::max<std::size_t>(8, 2 * v.capacity()));
}

}  // namespace

void FlowCache::add_chunk() {
  auto chunk = allocate_table<Entry>(kChunkEntries);
  std::unique_ptr<Extension[], HugeDeleter> ext;
  if (wide_) ext = allocate_table<Extension>(kChunkEntries, kHalfChunk);
  reserve_one(chunks_);
  reserve_one(rare_chunks_);
  if (wide_) reserve_one(ext_chunks_);
  // Nothing below allocates.
  chunks_.push_back(std::move(chunk));
  rare_chunks_.emplace_back();  // allocated when one of its flows first needs it (reserve_rare)
  if (wide_) ext_chunks_.push_back(std::move(ext));
  widen_ids();
}

bool FlowCache::reserve_rare(std::uint32_t id, const MeterInput& in) noexcept {
  auto& chunk = rare_chunks_[id / kChunkEntries];
  if (chunk != nullptr || !has_rare_facts(in)) return true;
  try {
    chunk = allocate_table<Rare>(kChunkEntries);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

bool FlowCache::reserve_new_flow(const MeterInput& in) noexcept {
  const std::uint32_t id = free_head_ != kNil ? free_head_ : entries_allocated_;
  try {
    if (id / kChunkEntries == chunks_.size()) add_chunk();
    std::uint64_t unused = 0;
    if (free_address6_ == kNil && addresses6_allocated_ / kChunkEntries == address6_chunks_.size() &&
        !narrow_addresses(in.key, unused)) {
      auto chunk = allocate_table<Address6>(kChunkEntries, kHalfChunk);
      reserve_one(address6_chunks_);
      address6_chunks_.push_back(std::move(chunk));
    }
  } catch (const std::bad_alloc&) {
    return false;  // what was allocated before the refusal stays, for later flows
  }
  return reserve_rare(id, in);
}

bool FlowCache::make_index_room() {
  try {
    const std::size_t slots = index_size_ * 2;
    rebuild_index(allocate_index(slots), slots);
    return true;
  } catch (const std::bad_alloc&) {
    // Tried again at the next new flow: memory may have been freed meanwhile.
    return static_cast<double>(size_ + 1) <= kEmergencyLoad * static_cast<double>(index_size_);
  }
}

MeterResult FlowCache::refuse_for_memory(const MeterInput& in) {
  ++stats_.alloc_dropped_packets;
  stats_.alloc_dropped_bytes += in.ip_length;
  return MeterResult::dropped_alloc;
}

// Makes the slots' entry-number field hold every entry of the slab (numbers + 1, so up to the
// slab's size). The tag loses the bits the field gains, its lowest: a slot keeps the rest of
// its tag and its distance, and stays where it is.
void FlowCache::widen_ids() {
  const std::uint64_t entries = std::uint64_t{chunks_.size()} * kChunkEntries;
  const auto bits = static_cast<std::uint32_t>(std::bit_width(entries));
  if (bits <= static_cast<std::uint32_t>(std::bit_width(id_mask_))) return;
  if (bits > kDispShift) throw std::logic_error("flow cache: the slab grew past kMaxEntries");
  const std::uint32_t old_id_mask = id_mask_;
  id_mask_ = (1u << bits) - 1;
  tag_mask_ = kBelowDisp & ~id_mask_;
  if (size_ == 0) return;
  // The tag bits the entry number takes over are cleared (empty slots stay 0). Through locals,
  // so that the loop is vectorised: a store through index_ could otherwise change id_mask_.
  const std::uint32_t keep = ~(id_mask_ & ~old_id_mask);
  std::uint32_t* const slots = index_.get();
  const std::size_t n = index_size_;
  for (std::size_t i = 0; i < n; ++i) slots[i] &= keep;
}

std::uint32_t FlowCache::allocate_entry() {
  if (free_head_ != kNil) {
    const std::uint32_t id = free_head_;
    free_head_ = static_cast<std::uint32_t>(entry(id).addresses);
    return id;
  }
  return entries_allocated_++;  // its chunk exists (reserve_new_flow)
}

void FlowCache::release_entry(std::uint32_t id) {
  Entry& e = entry(id);
  if ((e.tags & kWideAddresses) != 0) {
    address6(record_number(e.addresses)).words[0] = free_address6_;
    free_address6_ = record_number(e.addresses);
  }
  e.packets = 0;
  e.addresses = free_head_;
  free_head_ = id;
}

std::uint32_t FlowCache::allocate_address6() {
  if (free_address6_ != kNil) {
    const std::uint32_t n = free_address6_;
    free_address6_ = static_cast<std::uint32_t>(address6(n).words[0]);
    return n;
  }
  return addresses6_allocated_++;  // its chunk exists (reserve_new_flow)
}

bool FlowCache::key_matches(std::uint32_t id, const PackedFlowKey& key) const {
  const Entry& e = entry(id);
  std::uint64_t addresses = 0;
  const bool narrow = narrow_addresses(key, addresses);
  const std::uint64_t tags = key.core[5] | (narrow ? 0 : kWideAddresses);
  if (((e.ports ^ key.core[4]) | (e.tags ^ tags)) != 0) return false;
  if (narrow) {
    if (e.addresses != addresses) return false;
  } else {
    const auto& a = address6(record_number(e.addresses)).words;
    if (((a[0] ^ key.core[0]) | (a[1] ^ key.core[1]) | (a[2] ^ key.core[2]) | (a[3] ^ key.core[3])) != 0) return false;
  }
  if (!wide_) return !key.has_ext();
  const Extension& x = extension(id);
  return ((x.key[0] ^ key.ext[0]) | (x.key[1] ^ key.ext[1]) | (x.key[2] ^ key.ext[2])) == 0;
}

PackedFlowKey FlowCache::key_at(std::uint32_t id) const {
  const Entry& e = entry(id);
  PackedFlowKey k;
  if ((e.tags & kWideAddresses) != 0) {
    const auto& a = address6(record_number(e.addresses)).words;
    std::copy(a.begin(), a.end(), k.core.begin());
  } else {
    k.core[0] = (e.addresses & UINT32_MAX) << flow_key_detail::kIpv4Shift;
    k.core[2] = (e.addresses >> 32) << flow_key_detail::kIpv4Shift;
  }
  k.core[4] = e.ports;
  k.core[5] = e.tags & ~kWideAddresses;
  if (wide_) k.ext = extension(id).key;
  return k;
}

std::uint32_t FlowCache::find(const PackedFlowKey& key, std::uint64_t hash, std::size_t& slot, std::uint32_t hint) {
  // Where prefetch_entry() found the flow: still there unless the index changed since (the
  // key decides; a key is in the index once).
  if (hint < index_size_) {
    const std::uint32_t s = index_[hint];
    if (s != 0 && tag_matches(s, hash) && key_matches(id_of(s), key)) [[likely]] {
      slot = hint;
      stats_.probes += (hint - home_of(hash)) & index_mask_;
      return id_of(s);
    }
  }
  for (std::size_t i = home_of(hash);; i = (i + 1) & index_mask_) {
    const std::uint32_t s = index_[i];
    if (s == 0) {
      slot = i;
      return kNil;
    }
    if (tag_matches(s, hash) && key_matches(id_of(s), key)) {
      slot = i;
      return id_of(s);
    }
    ++stats_.probes;
  }
}

std::size_t FlowCache::slot_of(std::uint32_t id, std::uint64_t hash) const {
  const std::uint32_t wanted = make_slot(hash, id, 0);
  std::size_t i = home_of(hash);
  while (((index_[i] ^ wanted) & kBelowDisp) != 0) i = (i + 1) & index_mask_;
  return i;
}

// Backward-shift deletion keeps linear probing free of tombstones. A slot's home comes from
// its distance; only a slot 7 or more places past its home (rare below 50 % load) has its key
// rehashed.
void FlowCache::erase_slot(std::size_t hole) {
  std::size_t j = hole;
  for (;;) {
    j = (j + 1) & index_mask_;
    const std::uint32_t s = index_[j];
    if (s == 0) break;
    const std::size_t home = home_at(j, s);
    // Move s into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      index_[hole] = with_disp(s, (hole - home) & index_mask_);
      hole = j;
    }
  }
  index_[hole] = 0;
}

FlowCache::Reconfigured FlowCache::reconfigure(const FlowCacheConfig& config) {
  // Extensions exist for every chunk while the entries are wide; new ones start zeroed (no
  // MAC/MPLS key words, not bridged), which is what the flows already in the cache had. They
  // are allocated before anything changes.
  Chunks<Extension> ext;
  if (wide(config) && !wide_) {
    try {
      ext.reserve(chunks_.size());
      for (std::size_t i = 0; i < chunks_.size(); ++i)
        ext.push_back(allocate_table<Extension>(kChunkEntries, kHalfChunk));
    } catch (const std::bad_alloc&) {
      return Reconfigured::unchanged;
    }
  }
  const std::uint32_t old_hashsize = config_.hashsize;
  config_ = config;
  config_.hashsize = old_hashsize;                          // until the new index exists
  if (wide(config) != wide_) ext_chunks_ = std::move(ext);  // none when narrowing
  apply_config();
  if (config.hashsize == old_hashsize) return Reconfigured::applied;
  // Never below what the current flows need at the maximum load factor.
  std::size_t slots = std::bit_ceil(std::max<std::size_t>(config.hashsize, 256));
  while (static_cast<double>(size_) > kMaxLoad * static_cast<double>(slots)) slots *= 2;
  try {
    rebuild_index(allocate_index(slots), slots);
  } catch (const std::bad_alloc&) {
    return Reconfigured::index_kept;
  }
  config_.hashsize = config.hashsize;
  return Reconfigured::applied;
}

// Slots do not keep their home, so the new index is filled from the slab: in entry order
// (sequential reads), each flow's key hashed again.
void FlowCache::rebuild_index(std::unique_ptr<std::uint32_t[], HugeDeleter> fresh, std::size_t slots) {
  // The old index is freed before the new one is filled (nothing reads it): at most one of
  // them takes memory at a time.
  index_ = std::move(fresh);
  index_size_ = slots;
  index_mask_ = slots - 1;
  // In groups: the keys of a group are hashed and their home slots prefetched before the
  // first of them is placed, so that the index's misses overlap (the slab is read in order).
  // 64: the new index is fresh memory, and with groups of 16 the first slot of a group was
  // placed before its line had arrived (1M opening packets, 0.109 -> 0.105 CPU s).
  constexpr std::uint32_t kGroup = 64;
  std::array<std::uint64_t, kGroup> hashes{};
  std::array<std::uint32_t, kGroup> ids{};
  for (std::uint32_t first = 0; first < entries_allocated_; first += kGroup) {
    const std::uint32_t end = std::min(first + kGroup, entries_allocated_);
    std::size_t n = 0;
    for (std::uint32_t id = first; id < end; ++id) {
      if (entry(id).packets == 0) continue;
      hashes[n] = hash_at(id);
      ids[n] = id;
      __builtin_prefetch(&index_[home_of(hashes[n])], 1);
      ++n;
    }
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = home_of(hashes[k]);
      while (index_[i] != 0) i = (i + 1) & index_mask_;
      index_[i] = make_slot(hashes[k], ids[k], i);
    }
  }
  ++stats_.index_grows;
}

void FlowCache::start_flow(std::uint32_t id, const MeterInput& in, bool same_key) {
  Entry& e = entry(id);
  if (!same_key) {
    std::uint64_t addresses = 0;
    if (narrow_addresses(in.key, addresses)) {
      e.addresses = addresses;
      e.tags = in.key.core[5];
    } else {
      const std::uint32_t n = allocate_address6();
      std::copy(in.key.core.begin(), in.key.core.begin() + 4, address6(n).words.begin());
      e.addresses = n;
      e.tags = in.key.core[5] | kWideAddresses;
    }
    e.ports = in.key.core[4];
  }
  if ((e.tags & kWideAddresses) != 0) e.addresses = record_number(e.addresses) | std::uint64_t{in.flow_label} << 32;
  e.bytes = 0;
  e.first = in.timestamp;
  e.last_offset = 0;
  e.packets = 0;
  e.tcp_options = 0;
  e.l3_options = 0;
  // What only the first packet sets, in a chunk of its own that exists once any of its flows
  // had any of it (offline, and on AF_PACKET without IPsec, none has; reserve_rare made it
  // when this flow has any). creation_seq is 1 for the first flow.
  if (auto& rare_chunk = rare_chunks_[id / kChunkEntries]; rare_chunk != nullptr) {
    rare_chunk[id % kChunkEntries] =
        Rare{in.out_ifindex, in.ipsec_spi,
             config_.number_flows ? static_cast<std::uint32_t>(stats_.flows_created + 1) : std::uint32_t{0}};
  }
  e.tcp_flags = 0;
  e.direction = in.direction;
  e.src_prefix = in.src_prefix;
  e.dst_prefix = in.dst_prefix;
  if (wide_) {
    Extension& x = extension(id);
    x.key = in.key.ext;
    x.phys_in_ifindex = config_.keep_physdev ? in.phys_in_ifindex : kNoInterface;
    x.phys_out_ifindex = config_.keep_physdev ? in.phys_out_ifindex : kNoInterface;
  }
  ++stats_.flows_created;
}

void FlowCache::record_of(std::uint32_t id, FlowRecord& r) const {
  const Entry& e = entry(id);
  unpack_flow_key(key_at(id), r.key);
  r.packets = e.packets;
  r.bytes = e.bytes;
  r.first = e.first;
  r.last = e.first + e.last_offset;
  if (wide_) {
    r.phys_in_ifindex = extension(id).phys_in_ifindex;
    r.phys_out_ifindex = extension(id).phys_out_ifindex;
  }
  const bool v6 = r.key.family == IpFamily::v6;
  r.ipv4_options = v6 ? 0 : e.l3_options;
  r.ipv6_ext = v6 ? e.l3_options : 0;
  r.tcp_options = e.tcp_options;
  const Rare* rarely = rare_of(id);
  const Rare facts = rarely != nullptr ? *rarely : Rare{kNoInterface, 0, 0};
  r.out_ifindex = facts.out_ifindex;
  r.ipsec_spi = facts.ipsec_spi;
  r.creation_seq = facts.creation_seq;
  // Only IPv6 has a flow label, and IPv6 addresses are always in a record.
  r.flow_label = (e.tags & kWideAddresses) != 0 ? static_cast<std::uint32_t>(e.addresses >> 32) : 0;
  // The parser accepts IP only and always names its EtherType.
  r.ethertype = r.key.family == IpFamily::v4 ? 0x0800 : r.key.family == IpFamily::v6 ? 0x86dd : 0;
  r.tcp_flags = e.tcp_flags;
  r.src_prefix = e.src_prefix;
  r.dst_prefix = e.dst_prefix;
  r.direction = e.direction;
}

void FlowCache::end_flow(std::uint32_t id, FlowEndReason reason, std::vector<FlowRecord>& ended) const {
  FlowRecord& r = ended.emplace_back();
  record_of(id, r);
  r.end_reason = reason;
}

void FlowCache::remove_flow(std::uint32_t id, std::uint64_t hash, FlowEndReason reason,
                            std::vector<FlowRecord>& ended) {
  end_flow(id, reason, ended);
  erase_slot(slot_of(id, hash));
  release_entry(id);
  --size_;
  if (shared_count_ != nullptr) shared_count_->fetch_sub(1, std::memory_order_relaxed);
}

namespace {

// TCP flows that saw FIN (0x01) or RST (0x04) ended on their own.
bool tcp_closed(std::uint64_t tags, std::uint8_t tcp_flags) {
  return flow_key_detail::protocol_of(tags) == 6 && (tcp_flags & 0x05) != 0;
}

}  // namespace

MeterResult FlowCache::meter(const MeterInput& in, std::vector<FlowRecord>& ended, std::uint32_t hint) {
  const PackedFlowKey& key = in.key;
  const std::uint64_t hash = in.hash;
  std::size_t slot = 0;
  std::uint32_t id = find(key, hash, slot, hint);
  const TimeUs now = in.timestamp;

  if (id != kNil) {
    ++stats_.lookups_found;
    Entry& e = entry(id);
    // Checked before the packet is added, so a flow never spans more than active_timeout
    // and its counters never pass counter_limit. The entry is reused for the new flow.
    const TimeUs since_first = now - e.first;
    const bool active_expired = since_first > max_span_;
    const bool counters_full =
        e.packets + std::uint64_t{1} > packet_limit_ || e.bytes + in.ip_length > config_.counter_limit;
    // The idle timeout is checked here too, so a flow that went idle ends exactly at its
    // timeout even if the sweep has not reached it yet: records split the same way however
    // often the sweep runs.
    const bool idle_expired =
        config_.inactive_timeout != 0 && since_first - TimeUs{e.last_offset} > config_.inactive_timeout;
    if (active_expired || counters_full || idle_expired) [[unlikely]] {
      // The packet starts the key's next flow in this entry. When its first-packet facts
      // have no place, it is refused instead, and the ended flow stays until the sweep.
      if (!reserve_rare(id, in)) return refuse_for_memory(in);
      end_flow(id,
               idle_expired
                   ? (tcp_closed(e.tags, e.tcp_flags) ? FlowEndReason::end_of_flow : FlowEndReason::idle_timeout)
                   : FlowEndReason::active_timeout,
               ended);
      start_flow(id, in, true);
    }
  } else {
    const std::uint64_t live =
        shared_count_ != nullptr ? static_cast<std::uint64_t>(shared_count_->load(std::memory_order_relaxed)) : size_;
    // Besides maxflows, a cache holds at most kMaxEntries (what index slots can number).
    const bool full = free_head_ == kNil && entries_allocated_ >= kMaxEntries;
    if ((config_.maxflows != 0 && live >= config_.maxflows) || full) [[unlikely]] {
      ++stats_.maxflows_dropped_packets;
      stats_.maxflows_dropped_bytes += in.ip_length;
      return MeterResult::dropped_maxflows;
    }
    if (!reserve_new_flow(in)) [[unlikely]]
      return refuse_for_memory(in);
    if (static_cast<double>(size_ + 1) > kMaxLoad * static_cast<double>(index_size_)) [[unlikely]] {
      if (!make_index_room()) return refuse_for_memory(in);
      find(key, hash, slot);  // the free slot moved
    }
    id = allocate_entry();
    // The next new flow will take the next free entry: fetch it now (free entries are
    // scattered over the slab once flows expire).
    if (free_head_ != kNil) {
      __builtin_prefetch(&entry(free_head_), 1);
      if (const Rare* rarely = rare_of(free_head_); rarely != nullptr) __builtin_prefetch(rarely, 1);
    }
    index_[slot] = make_slot(hash, id, slot);
    start_flow(id, in, false);
    ++size_;
    if (shared_count_ != nullptr) shared_count_->fetch_add(1, std::memory_order_relaxed);
    stats_.peak_flows = std::max<std::uint64_t>(stats_.peak_flows, size_);
  }
  Entry& e = entry(id);
  ++e.packets;
  e.bytes += in.ip_length;
  // A clock that stepped back (live capture) never makes the offset wrap.
  e.last_offset = std::max(e.last_offset, static_cast<std::uint32_t>(std::max<TimeUs>(now - e.first, 0)));
  e.tcp_flags |= in.tcp_flags;
  e.tcp_options |= in.tcp_options;
  e.l3_options |= in.l3_options;
  stats_.packets += 1;
  stats_.bytes += in.ip_length;
  return MeterResult::metered;
}

void FlowCache::sweep(std::uint32_t count, TimeUs now, std::vector<FlowRecord>& ended) {
  // Due flows are removed a few at a time, their index slots prefetched first: the slab is
  // walked in order, but each flow's index slot is a random access.
  struct Due {
    std::uint32_t id;
    FlowEndReason reason;
    std::uint64_t hash;
  };
  std::array<Due, 16> due;
  std::size_t ndue = 0;
  auto remove_due = [&] {
    for (std::size_t i = 0; i < ndue; ++i) remove_flow(due[i].id, due[i].hash, due[i].reason, ended);
    ndue = 0;
  };
  const bool flush_all = config_.inactive_timeout == 0;
  for (std::uint32_t n = 0; n < count && entries_allocated_ != 0; ++n) {
    if (sweep_cursor_ >= entries_allocated_) sweep_cursor_ = 0;
    const std::uint32_t id = sweep_cursor_++;
    const Entry& e = entry(id);
    if (e.packets == 0) continue;
    const TimeUs since_first = now - e.first;
    FlowEndReason reason;
    if (flush_all) {
      reason = FlowEndReason::forced_end;
    } else if (since_first - TimeUs{e.last_offset} > config_.inactive_timeout) {
      reason = tcp_closed(e.tags, e.tcp_flags) ? FlowEndReason::end_of_flow : FlowEndReason::idle_timeout;
    } else if (since_first > max_span_) {
      reason = FlowEndReason::active_timeout;
    } else {
      continue;
    }
    const std::uint64_t hash = hash_at(id);
    prefetch_index(hash);
    due[ndue++] = Due{id, reason, hash};
    if (ndue == due.size()) remove_due();
  }
  remove_due();
}

void FlowCache::expire(TimeUs now, std::vector<FlowRecord>& ended) {
  // Visit the share of the slab that keeps a full pass within the sweep period: a quarter of
  // the shorter timeout, between 1 and 10 s. Records split the same way whatever the period
  // (timeouts are also checked on the packet path); it only bounds how late an idle flow is
  // exported, and a shorter one would spend most of the time walking the slab.
  const TimeUs period = std::clamp<TimeUs>(std::min(config_.active_timeout, config_.inactive_timeout) / 4, kSweepPeriod,
                                           10 * kSweepPeriod);
  const TimeUs elapsed = std::max<TimeUs>(now - last_sweep_, 0);
  last_sweep_ = now;
  std::uint64_t count = entries_allocated_;
  if (elapsed < period && config_.inactive_timeout != 0) {
    count = (count * static_cast<std::uint64_t>(elapsed) + period - 1) / period;
  }
  sweep(static_cast<std::uint32_t>(std::min<std::uint64_t>(count, entries_allocated_)), now, ended);
}

void FlowCache::flush(std::vector<FlowRecord>& ended, FlowEndReason reason) {
  ended.reserve(ended.size() + size_);
  drain(reason, [&ended](const FlowRecord& r) { ended.push_back(r); });
}

void FlowCache::forget_all() {
  if (shared_count_ != nullptr) shared_count_->fetch_sub(static_cast<std::int64_t>(size_), std::memory_order_relaxed);
  size_ = 0;
  // The slab is reused from its start (its chunks stay allocated).
  free_head_ = kNil;
  entries_allocated_ = 0;
  free_address6_ = kNil;
  addresses6_allocated_ = 0;
  sweep_cursor_ = 0;
}

std::size_t FlowCache::memory_bytes() const {
  const auto rare = static_cast<std::size_t>(
      std::count_if(rare_chunks_.begin(), rare_chunks_.end(), [](const auto& chunk) { return chunk != nullptr; }));
  return index_size_ * sizeof(std::uint32_t) + chunks_.size() * kChunkEntries * sizeof(Entry) +
         (rare * sizeof(Rare) + address6_chunks_.size() * sizeof(Address6) + ext_chunks_.size() * sizeof(Extension)) *
             kChunkEntries;
}

}  // namespace netflowd
