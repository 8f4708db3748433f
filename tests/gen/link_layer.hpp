// Puts a link-layer header in front of a network-layer packet for the
// capture's link type. Ethernet frames shorter than the 60-byte minimum
// (without FCS) are zero-padded like a NIC does; cooked captures keep that
// padding too, since Linux packet sockets see the frame before IP trims it.
#pragma once

#include "model.hpp"

#include <span>

namespace nfgen {

struct FrameOptions {
  bool pad = true;  // false for runts made on purpose (frame cut inside a header)
};

// ethertype is the protocol after any VLAN tags described by l2.
void build_frame(LinkType link, const L2Info& l2, std::uint16_t ethertype, std::span<const std::uint8_t> l3,
                 const FrameOptions& opts, Bytes& out);

}  // namespace nfgen
