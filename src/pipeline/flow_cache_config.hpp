// The flow-cache settings that follow from the configuration.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "control/config.hpp"
#include "export/netflow5/netflow5_encoder.hpp"
#include "flow/flow_cache.hpp"

namespace netflowd {

// hashsize=0: the index upstream's table would get on a machine with `ram_bytes` of memory
// (RAM / 1024 bytes, at most 5 MiB, of 8-byte buckets: 131,072 slots per GiB, 655,360 from
// 5 GiB on; at least 256), shared by `shards` worker caches that each hold their part of the
// flows. The index still doubles when half full; starting at the size the machine's flow
// counts call for saves the rebuilds on the way there (1M new flows: 7 % less CPU).
inline std::uint32_t automatic_hashsize(std::uint64_t ram_bytes, unsigned shards) {
  const std::uint64_t buckets = std::min<std::uint64_t>(ram_bytes / 1024, std::uint64_t{5} << 20) / 8;
  return static_cast<std::uint32_t>(std::max<std::uint64_t>(buckets / std::max(shards, 1u), 256));
}

inline std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
}

// The cache settings of one of `shards` worker caches.
inline FlowCacheConfig flow_cache_config(const Config& c, unsigned shards = 1) {
  FlowCacheConfig fc;
  fc.active_timeout = seconds_to_us(c.active_timeout);
  fc.inactive_timeout = seconds_to_us(c.inactive_timeout);
  fc.maxflows = c.maxflows;
  fc.hashsize = c.hashsize != 0 ? c.hashsize : automatic_hashsize(physical_memory_bytes(), shards);
  // NetFlow v5 counters are 32-bit: flows are split before they would wrap.
  fc.counter_limit = c.protocol == 5 ? Netflow5Encoder::kCounterLimit : UINT64_MAX;
  fc.key_options.mac = c.macaddress;
  fc.key_options.mpls_labels = static_cast<std::uint8_t>(c.mpls_depth);
  fc.keep_physdev = c.physdev;
  fc.number_flows = c.sampler.mode == SamplerMode::deterministic;
  return fc;
}

}  // namespace netflowd
