// The common packet, from its bytes straight to its metering form.
//
// Most packets a router meters are TCP, UDP (and UDP-Lite), SCTP or ICMP over IPv4 without
// options or over IPv6 without extension headers, in an Ethernet frame with at most two VLAN
// tags (or with no link header, as NFLOG hands them). For those, fast_meter_input() fills the
// MeterInput directly from the frame, without the general parser's ParsedPacket in between:
// about a third of the instructions of parse_packet() + apply_capture_meta() +
// make_meter_input().
//
// It accepts a frame only when that general path would give exactly the same MeterInput
// (tests/unit/flow/fast_input_test.cpp compares the two over generated and mutated frames);
// anything else (other protocols, options, fragments, short or malformed frames, three tags
// in the frame) returns false, and the caller parses the frame the general way, which also
// counts what is malformed. Only for the default key: the caller takes the general path when
// MAC addresses or MPLS labels are key fields or aggregation rules are set.
#pragma once

#include <cstdint>
#include <span>

#include "flow/flow_cache.hpp"
#include "packet/link_type.hpp"
#include "packet/packet_meta.hpp"

namespace netflowd {

// Fills every field of `in` and returns true, or returns false (and `in` is unspecified).
bool fast_meter_input(LinkType link, std::span<const std::uint8_t> frame, std::uint32_t wire_length,
                      const PacketMeta& meta, MeterInput& in);

// Whether fast_meter_input() may be used under these key options and with or without
// aggregation rules.
inline bool fast_input_applies(const FlowKeyOptions& options, bool aggregating) {
  return !options.mac && options.mpls_labels == 0 && !aggregating;
}

}  // namespace netflowd
