// An IPv4 or IPv6 address as 16 bytes plus a family, the form flow keys use.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace netflowd {

enum class IpFamily : std::uint8_t { none = 0, v4 = 4, v6 = 6 };

struct IpAddress {
  IpFamily family = IpFamily::none;
  // IPv4 uses the first 4 bytes; the rest stay zero.
  std::array<std::uint8_t, 16> bytes{};

  static IpAddress v4(std::uint32_t host_order);
  // Parses dotted-quad IPv4 or textual IPv6 (no brackets, no zone).
  static std::optional<IpAddress> parse(std::string_view text);
  std::string to_string() const;
  std::uint32_t v4_host_order() const;
  bool operator==(const IpAddress&) const = default;
};

std::string format_address(IpFamily family, const std::uint8_t* bytes);

}  // namespace netflowd
