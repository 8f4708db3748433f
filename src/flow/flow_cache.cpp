#include "flow/flow_cache.hpp"

#include <algorithm>
#include <bit>

namespace netflowd {

namespace {

constexpr double kMaxLoad = 0.7;

std::uint32_t tag_of(std::uint64_t hash) { return static_cast<std::uint32_t>(hash >> 32); }
std::uint32_t id_of(std::uint64_t slot) { return static_cast<std::uint32_t>(slot) - 1; }
std::uint64_t make_slot(std::uint32_t tag, std::uint32_t id) { return (std::uint64_t{tag} << 32) | (id + 1ull); }

}  // namespace

FlowCacheStats& FlowCacheStats::operator+=(const FlowCacheStats& o) {
  packets += o.packets;
  bytes += o.bytes;
  flows_created += o.flows_created;
  lookups_found += o.lookups_found;
  probes += o.probes;
  maxflows_dropped_packets += o.maxflows_dropped_packets;
  maxflows_dropped_bytes += o.maxflows_dropped_bytes;
  peak_flows += o.peak_flows;
  index_grows += o.index_grows;
  return *this;
}

FlowCache::FlowCache(const FlowCacheConfig& config) : config_(config) {
  const std::size_t slots = std::bit_ceil(std::max<std::size_t>(config.hashsize, 256));
  index_.assign(slots, 0);
  index_mask_ = slots - 1;
}

FlowCache::~FlowCache() = default;

FlowCache::Entry& FlowCache::entry(std::uint32_t id) {
  return chunks_[id >> kChunkBits][id & ((1u << kChunkBits) - 1)];
}

std::uint32_t FlowCache::allocate_entry() {
  if (free_head_ != kNil) {
    const std::uint32_t id = free_head_;
    free_head_ = entry(id).next_free;
    return id;
  }
  if ((entries_allocated_ >> kChunkBits) == chunks_.size()) {
    chunks_.push_back(std::make_unique<Entry[]>(std::size_t{1} << kChunkBits));
  }
  return entries_allocated_++;
}

void FlowCache::release_entry(std::uint32_t id) {
  Entry& e = entry(id);
  e.used = false;
  e.next_free = free_head_;
  free_head_ = id;
}

std::uint32_t FlowCache::find(const FlowKey& key, std::uint64_t hash, std::size_t& slot) {
  const std::uint32_t tag = tag_of(hash);
  for (std::size_t i = tag & index_mask_;; i = (i + 1) & index_mask_) {
    const std::uint64_t s = index_[i];
    if (s == 0) {
      slot = i;
      return kNil;
    }
    if (static_cast<std::uint32_t>(s >> 32) == tag && entry(id_of(s)).record.key == key) {
      slot = i;
      return id_of(s);
    }
    ++stats_.probes;
  }
}

std::size_t FlowCache::slot_of(std::uint32_t id, std::uint32_t tag) const {
  const std::uint64_t wanted = make_slot(tag, id);
  std::size_t i = tag & index_mask_;
  while (index_[i] != wanted) i = (i + 1) & index_mask_;
  return i;
}

void FlowCache::insert_slot(std::uint64_t hash, std::uint32_t id) {
  const std::uint32_t tag = tag_of(hash);
  std::size_t i = tag & index_mask_;
  while (index_[i] != 0) i = (i + 1) & index_mask_;
  index_[i] = make_slot(tag, id);
}

// Backward-shift deletion keeps linear probing free of tombstones.
void FlowCache::erase_slot(std::size_t hole) {
  std::size_t j = hole;
  for (;;) {
    j = (j + 1) & index_mask_;
    const std::uint64_t s = index_[j];
    if (s == 0) break;
    const std::size_t home = static_cast<std::uint32_t>(s >> 32) & index_mask_;
    // Move s into the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      index_[hole] = s;
      hole = j;
    }
  }
  index_[hole] = 0;
}

void FlowCache::reconfigure(const FlowCacheConfig& config) {
  const std::uint32_t old_hashsize = config_.hashsize;
  config_ = config;
  if (config.hashsize != old_hashsize) {
    // Never below what the current flows need at the maximum load factor.
    std::size_t slots = std::bit_ceil(std::max<std::size_t>(config.hashsize, 256));
    while (static_cast<double>(size_) > kMaxLoad * static_cast<double>(slots)) slots *= 2;
    rebuild_index(slots);
  }
}

void FlowCache::grow_index() { rebuild_index(index_.size() * 2); }

void FlowCache::rebuild_index(std::size_t slots) {
  std::vector<std::uint64_t> old;
  old.swap(index_);
  index_.assign(slots, 0);
  index_mask_ = index_.size() - 1;
  for (const std::uint64_t s : old) {
    if (s == 0) continue;
    std::size_t i = static_cast<std::uint32_t>(s >> 32) & index_mask_;
    while (index_[i] != 0) i = (i + 1) & index_mask_;
    index_[i] = s;
  }
  ++stats_.index_grows;
}

void FlowCache::start_flow(Entry& e, const FlowKey& key, const ParsedPacket& p, const PacketMeta& meta) {
  FlowRecord& r = e.record;
  r = FlowRecord{};
  r.key = key;
  r.first = meta.timestamp;
  r.creation_seq = static_cast<std::uint32_t>(stats_.flows_created + 1);  // 1 for the first flow
  r.out_ifindex = meta.out_ifindex;
  r.phys_in_ifindex = meta.phys_in_ifindex;
  r.phys_out_ifindex = meta.phys_out_ifindex;
  r.flow_label = p.flow_label;
  r.ethertype = p.ethertype;
  r.direction = meta.direction;
  r.ipsec_spi = p.ipsec_spi;
  r.src_prefix = p.src_prefix;
  r.dst_prefix = p.dst_prefix;
  ++stats_.flows_created;
}

void FlowCache::add_packet(FlowRecord& r, const ParsedPacket& p, TimeUs now) {
  ++r.packets;
  r.bytes += p.ip_length;
  r.last = now;
  r.tcp_flags |= p.tcp_flags;
  r.tcp_options |= p.tcp_options;
  r.ipv4_options |= p.ipv4_options;
  r.ipv6_ext |= p.ipv6_ext;
}

void FlowCache::remove_flow(std::uint32_t id, FlowEndReason reason, std::vector<FlowRecord>& ended) {
  Entry& e = entry(id);
  e.record.end_reason = reason;
  ended.push_back(e.record);
  erase_slot(slot_of(id, e.tag));
  release_entry(id);
  --size_;
  if (shared_count_ != nullptr) shared_count_->fetch_sub(1, std::memory_order_relaxed);
}

MeterResult FlowCache::meter(const ParsedPacket& packet, const PacketMeta& meta, std::vector<FlowRecord>& ended) {
  const FlowKey key = make_flow_key(packet, meta.in_ifindex, config_.key_options);
  const std::uint64_t hash = hash_flow_key(key);
  std::size_t slot = 0;
  const std::uint32_t found = find(key, hash, slot);
  const TimeUs now = meta.timestamp;

  if (found != kNil) {
    ++stats_.lookups_found;
    Entry& e = entry(found);
    FlowRecord& r = e.record;
    // Checked before the packet is added, so a flow never spans more than active_timeout
    // and its counters never pass counter_limit. The entry is reused for the new flow.
    const bool active_expired = now - r.first > config_.active_timeout;
    const bool counters_full =
        r.packets + 1 > config_.counter_limit || r.bytes + packet.ip_length > config_.counter_limit;
    // The idle timeout is checked here too, so a flow that went idle ends exactly at its
    // timeout even if the sweep has not reached it yet: records split the same way however
    // often the sweep runs.
    const bool idle_expired = config_.inactive_timeout != 0 && now - r.last > config_.inactive_timeout;
    if (active_expired || counters_full || idle_expired) {
      const bool closed = r.key.protocol == 6 && (r.tcp_flags & 0x05) != 0;
      r.end_reason = idle_expired ? (closed ? FlowEndReason::end_of_flow : FlowEndReason::idle_timeout)
                                  : FlowEndReason::active_timeout;
      ended.push_back(r);
      start_flow(e, key, packet, meta);
    }
    add_packet(r, packet, now);
    stats_.packets += 1;
    stats_.bytes += packet.ip_length;
    return MeterResult::metered;
  }

  const std::uint64_t live =
      shared_count_ != nullptr ? static_cast<std::uint64_t>(shared_count_->load(std::memory_order_relaxed)) : size_;
  if (config_.maxflows != 0 && live >= config_.maxflows) {
    ++stats_.maxflows_dropped_packets;
    stats_.maxflows_dropped_bytes += packet.ip_length;
    return MeterResult::dropped_maxflows;
  }
  if (static_cast<double>(size_ + 1) > kMaxLoad * static_cast<double>(index_.size())) {
    grow_index();
    find(key, hash, slot);  // the free slot moved
  }
  const std::uint32_t id = allocate_entry();
  Entry& e = entry(id);
  e.used = true;
  e.tag = tag_of(hash);
  index_[slot] = make_slot(e.tag, id);
  start_flow(e, key, packet, meta);
  add_packet(e.record, packet, now);
  ++size_;
  if (shared_count_ != nullptr) shared_count_->fetch_add(1, std::memory_order_relaxed);
  stats_.peak_flows = std::max<std::uint64_t>(stats_.peak_flows, size_);
  stats_.packets += 1;
  stats_.bytes += packet.ip_length;
  return MeterResult::metered;
}

void FlowCache::sweep(std::uint32_t count, TimeUs now, std::vector<FlowRecord>& ended) {
  const bool flush_all = config_.inactive_timeout == 0;
  for (std::uint32_t n = 0; n < count && entries_allocated_ != 0; ++n) {
    if (sweep_cursor_ >= entries_allocated_) sweep_cursor_ = 0;
    const std::uint32_t id = sweep_cursor_++;
    Entry& e = entry(id);
    if (!e.used) continue;
    const FlowRecord& r = e.record;
    if (flush_all) {
      remove_flow(id, FlowEndReason::forced_end, ended);
    } else if (now - r.last > config_.inactive_timeout) {
      // TCP flows that saw FIN (0x01) or RST (0x04) ended on their own.
      const bool closed = r.key.protocol == 6 && (r.tcp_flags & 0x05) != 0;
      remove_flow(id, closed ? FlowEndReason::end_of_flow : FlowEndReason::idle_timeout, ended);
    } else if (now - r.first > config_.active_timeout) {
      remove_flow(id, FlowEndReason::active_timeout, ended);
    }
  }
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
  for (std::uint32_t id = 0; id < entries_allocated_; ++id) {
    if (entry(id).used) remove_flow(id, reason, ended);
  }
}

std::size_t FlowCache::memory_bytes() const {
  return index_.size() * sizeof(std::uint64_t) + chunks_.size() * (sizeof(Entry) << kChunkBits);
}

}  // namespace netflowd
