#include "common/ip_address.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace netflowd {

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.family = IpFamily::v4;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);  // inet_pton needs a terminated string
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = IpFamily::v4;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = IpFamily::v6;
    return a;
  }
  return std::nullopt;
}

std::uint32_t IpAddress::v4_host_order() const {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) | bytes[3];
}

std::string format_address(IpFamily family, const std::uint8_t* bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == IpFamily::v6 ? AF_INET6 : AF_INET;
  if (::inet_ntop(af, bytes, buf, sizeof buf) == nullptr) return "?";
  return buf;
}

std::string IpAddress::to_string() const { return format_address(family, bytes.data()); }

}  // namespace netflowd
