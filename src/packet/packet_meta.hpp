// What the capture source knows about a packet beyond its bytes.
#pragma once

#include <array>
#include <cstdint>

#include "common/time.hpp"

namespace netflowd {

// flowDirection values (IE 61), plus upstream's 255 for the FORWARD hook.
enum class FlowDirection : std::uint8_t { ingress = 0, egress = 1, forward = 255 };

inline constexpr std::uint32_t kNoInterface = 0;  // ifIndex 0: unknown / none (RFC 2863)

struct PacketMeta {
  TimeUs timestamp = 0;
  std::uint32_t in_ifindex = kNoInterface;
  std::uint32_t out_ifindex = kNoInterface;
  // Bridge ports (NFLOG on a bridge with br_netfilter); 0 when not bridged.
  std::uint32_t phys_in_ifindex = kNoInterface;
  std::uint32_t phys_out_ifindex = kNoInterface;
  FlowDirection direction = FlowDirection::ingress;
  // Link-layer facts the capture knows but the bytes do not show: a VLAN tag the NIC or the
  // kernel removed (it becomes the outer tag), MAC addresses when the frame has no link header.
  bool has_stripped_vlan = false;
  std::uint16_t stripped_vlan_tci = 0;
  bool has_mac = false;
  std::array<std::uint8_t, 6> src_mac{};
  std::array<std::uint8_t, 6> dst_mac{};

  // The defaults again, with timestamp `t`, member by member: `m = PacketMeta{}` compiles (GCC
  // 12, x86-64) to a `rep stosb` over the 41 bytes of members, whose start-up cost showed in
  // every frame read. Every member must be here (unit test PacketMeta.ResetRestoresEveryDefault).
  void reset(TimeUs t) noexcept {
    timestamp = t;
    in_ifindex = out_ifindex = phys_in_ifindex = phys_out_ifindex = kNoInterface;
    direction = FlowDirection::ingress;
    has_stripped_vlan = false;
    stripped_vlan_tci = 0;
    has_mac = false;
    src_mac = {};
    dst_mac = {};
  }
  bool operator==(const PacketMeta&) const = default;
};

}  // namespace netflowd
