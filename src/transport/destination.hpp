// The `destination` parameter (reference 3.1): where export datagrams go.
//
//   list     := entry { sep entry }       sep: space , ; tab newline
//   IPv4     := A.B.C.D[:port][@bind-address][%interface]
//   IPv6     := [addr][:port]... or addr followed by '.', 'p' or '#' and the port
//               (recognised by two or more colons), then [@bind-address][%interface]
//   port     := C-style number (0x.. hex, leading 0 octal), default 2055
// Duplicate address:port entries are ignored. Unlike upstream, which skips entries it cannot
// parse, a bad entry rejects the whole value so that a typo never silently loses a collector.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.hpp"

namespace netflowd {

inline constexpr std::uint16_t kDefaultCollectorPort = 2055;

struct Destination {
  IpAddress address;
  std::uint16_t port = kDefaultCollectorPort;
  std::optional<IpAddress> bind_address;  // source address to bind (port 0)
  std::string interface;                  // SO_BINDTODEVICE, empty for none

  // addr:port[@bind][%dev], IPv6 as [addr]:port: the form /proc and SNMP show.
  std::string to_string() const;
  // Fills a sockaddr for address:port; returns its length.
  socklen_t to_sockaddr(sockaddr_storage& out) const;
  bool operator==(const Destination&) const = default;
};

// Throws ParameterError("destination", reason) naming the bad entry.
std::vector<Destination> parse_destinations(std::string_view value);

std::string format_destinations(const std::vector<Destination>& list);

}  // namespace netflowd
