// Recognises the datagrams netflowd itself sends, should a capture see them: UDP from the
// exporter's local port to a destination. Such packets are counted (own_export), not metered.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "common/ip_address.hpp"
#include "flow/flow_key.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd {

// The export thread replaces the list when the destinations change; capture threads pick it
// up at their next publication.
class OwnExportFilter {
 public:
  struct Target {
    IpAddress address;
    std::uint16_t port;
    std::uint16_t local_port;
  };
  void set(std::vector<Target> targets) {
    std::lock_guard lock(mutex_);
    targets_ = std::move(targets);
    version_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::vector<Target> get() const {
    std::lock_guard lock(mutex_);
    return targets_;
  }
  static bool matches(const std::vector<Target>& targets, const ParsedPacket& p) {
    return p.protocol == 17 && matches(targets, p.family, p.dst.data(), p.src_port, p.dst_port);
  }
  // The same for a packet in its metering form (the key's address words hold the address
  // bytes first, as ParsedPacket does).
  static bool matches(const std::vector<Target>& targets, const PackedFlowKey& k) {
    if (flow_key_detail::protocol_of(k.core[5]) != 17) return false;
    return matches(targets, flow_key_detail::family_of(k.core[5]), reinterpret_cast<const std::uint8_t*>(&k.core[2]),
                   static_cast<std::uint16_t>(k.core[4]), static_cast<std::uint16_t>(k.core[4] >> 16));
  }

 private:
  static bool matches(const std::vector<Target>& targets, IpFamily family, const std::uint8_t* dst,
                      std::uint16_t src_port, std::uint16_t dst_port) {
    for (const auto& t : targets) {
      if (dst_port == t.port && src_port == t.local_port && family == t.address.family &&
          std::equal(dst, dst + (family == IpFamily::v6 ? 16 : 4), t.address.bytes.begin())) {
        return true;
      }
    }
    return false;
  }

  mutable std::mutex mutex_;
  std::vector<Target> targets_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace netflowd
