// A NAT event (NEL): a conntrack entry with address or port translation was created or
// destroyed. Plain data, knows nothing of netlink or of the export formats (reference §4).
#pragma once

#include <array>
#include <cstdint>

#include "common/time.hpp"

namespace netflowd {

// natEvent (IE 230): the values upstream produces (3, "pool exhausted", is never produced).
enum class NatEventType : std::uint8_t { create = 1, destroy = 2 };

// One direction of a connection: IPv4 addresses as on the wire, ports in host order. For ICMP
// the "ports" are conntrack's: the echo id as the source port, type << 8 | code as the
// destination port.
struct NatTuple {
  std::array<std::uint8_t, 4> src{};
  std::array<std::uint8_t, 4> dst{};
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;

  bool operator==(const NatTuple&) const = default;
};

struct NatEvent {
  NatTuple pre;   // the original direction's tuple
  NatTuple post;  // the reply direction's tuple reversed: what the packet looks like after NAT
  std::uint8_t protocol = 0;
  NatEventType type = NatEventType::create;
  TimeUs time = 0;  // conntrack's start (create) or stop (destroy) time, else when it was read

  bool source_translated() const { return pre.src != post.src || pre.src_port != post.src_port; }
  bool destination_translated() const { return pre.dst != post.dst || pre.dst_port != post.dst_port; }
};

// What the conntrack event reader saw (capture/conntrack/nat_event_source.hpp).
struct NatEventCounters {
  std::uint64_t creates = 0;    // NAT events read: connection created (natEvent 1)
  std::uint64_t destroys = 0;   // connection destroyed (natEvent 2)
  std::uint64_t not_nat = 0;    // conntrack events of connections without NAT, or not IPv4
  std::uint64_t malformed = 0;  // messages without the tuples or status an event needs, or cut short
  std::uint64_t overruns = 0;   // ENOBUFS: the kernel dropped events the buffer could not hold

  NatEventCounters& operator+=(const NatEventCounters& o) {
    creates += o.creates;
    destroys += o.destroys;
    not_nat += o.not_nat;
    malformed += o.malformed;
    overruns += o.overruns;
    return *this;
  }
  NatEventCounters& operator-=(const NatEventCounters& o) {
    creates -= o.creates;
    destroys -= o.destroys;
    not_nat -= o.not_nat;
    malformed -= o.malformed;
    overruns -= o.overruns;
    return *this;
  }
};

}  // namespace netflowd
