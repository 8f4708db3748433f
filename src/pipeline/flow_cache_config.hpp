// The flow-cache settings that follow from the configuration.
#pragma once

#include "control/config.hpp"
#include "export/netflow5/netflow5_encoder.hpp"
#include "flow/flow_cache.hpp"

namespace netflowd {

inline FlowCacheConfig flow_cache_config(const Config& c) {
  FlowCacheConfig fc;
  fc.active_timeout = seconds_to_us(c.active_timeout);
  fc.inactive_timeout = seconds_to_us(c.inactive_timeout);
  fc.maxflows = c.maxflows;
  fc.hashsize = c.hashsize != 0 ? c.hashsize : 65536;
  // NetFlow v5 counters are 32-bit: flows are split before they would wrap.
  fc.counter_limit = c.protocol == 5 ? Netflow5Encoder::kCounterLimit : UINT64_MAX;
  fc.key_options.mac = c.macaddress;
  fc.key_options.mpls_labels = static_cast<std::uint8_t>(c.mpls_depth);
  fc.keep_physdev = c.physdev;
  return fc;
}

}  // namespace netflowd
