// Folds what the capture knows (PacketMeta) into a parsed packet.
#pragma once

#include "packet/packet_meta.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd {

// A tag removed before capture is the outermost one; tags still in the frame follow it (the
// innermost is dropped if that makes three, as the parser keeps two).
inline void apply_capture_meta(const PacketMeta& meta, ParsedPacket& p) {
  if (meta.has_stripped_vlan) {
    p.vlan_tci[1] = p.vlan_tci[0];
    p.vlan_tci[0] = meta.stripped_vlan_tci;
    if (p.vlan_count < kMaxVlanTags) ++p.vlan_count;
  }
  if (meta.has_mac && !p.has_mac) {
    p.has_mac = true;
    p.src_mac = meta.src_mac;
    p.dst_mac = meta.dst_mac;
  }
}

}  // namespace netflowd
