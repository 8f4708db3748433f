// Link-layer framings the parser understands, independent of libpcap's DLT numbers.
#pragma once

#include <cstdint>

namespace netflowd {

enum class LinkType : std::uint8_t {
  ethernet,    // DLT_EN10MB, also AF_PACKET on Ethernet devices
  linux_sll,   // Linux cooked capture v1 (DLT_LINUX_SLL, 16-byte header)
  linux_sll2,  // Linux cooked capture v2 (DLT_LINUX_SLL2, 20-byte header)
  raw_ip,      // no link header; IPv4 or IPv6 chosen by the version nibble
  ipv4,        // no link header, always IPv4
  ipv6,        // no link header, always IPv6
};

}  // namespace netflowd
