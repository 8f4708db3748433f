// A metered flow: plain data, knows nothing of NetFlow v5, v9 or IPFIX.
#pragma once

#include <cstdint>

#include "common/time.hpp"
#include "flow/flow_key.hpp"

namespace netflowd {

// flowEndReason (IE 136, RFC 7011 / IANA registry).
enum class FlowEndReason : std::uint8_t {
  idle_timeout = 1,
  active_timeout = 2,
  end_of_flow = 3,  // TCP FIN or RST was seen, then the flow went idle
  forced_end = 4,   // flush, shutdown, end of a capture file
  lack_of_resources = 5,
};

struct FlowRecord {
  FlowKey key;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  TimeUs first = 0;  // timestamp of the first and last packet
  TimeUs last = 0;
  std::uint32_t out_ifindex = kNoInterface;      // of the first packet
  std::uint32_t phys_in_ifindex = kNoInterface;  // bridge ports of the first packet (0: not bridged)
  std::uint32_t phys_out_ifindex = kNoInterface;
  std::uint32_t ipv4_options = 0;  // ORed over packets (ParsedPacket layout)
  std::uint64_t tcp_options = 0;   // ORed over packets
  std::uint32_t ipv6_ext = 0;      // ORed over packets
  std::uint32_t flow_label = 0;    // of the first packet
  std::uint32_t ipsec_spi = 0;
  std::uint32_t creation_seq = 0;  // the shard's flow number, for deterministic sampling
  std::uint16_t ethertype = 0;
  std::uint8_t tcp_flags = 0;   // ORed over packets
  std::uint8_t src_prefix = 0;  // aggregation: prefix lengths the addresses were cut to
  std::uint8_t dst_prefix = 0;
  FlowEndReason end_reason = FlowEndReason::forced_end;
  FlowDirection direction = FlowDirection::ingress;  // of the first packet
};

}  // namespace netflowd
