// Why a frame was not metered. Each value is a named counter in the statistics; the
// per-packet path returns one of these instead of throwing or logging.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace netflowd {

enum class ParseStatus : std::uint8_t {
  ok = 0,
  non_ip,                // not IPv4/IPv6 (ARP, LLDP, MPLS pseudowire payload, ...)
  truncated_l2,          // frame ends inside the link header, a VLAN tag or an MPLS entry
  too_many_vlan_tags,    // more than two 802.1Q/802.1ad tags
  too_many_mpls_labels,  // label stack deeper than the parser follows
  truncated_ip,          // frame ends inside the IPv4/IPv6 header (or its options)
  bad_ip_version,        // version nibble does not match the link-layer type
  bad_ip_header_length,  // IPv4 IHL below 5
  bad_ip_total_length,   // IP length smaller than the header or larger than the frame
  truncated_l4,          // transport header needed for ports/flags is not in the frame
  count_
};

inline constexpr std::size_t kParseStatusCount = static_cast<std::size_t>(ParseStatus::count_);

std::string_view to_string(ParseStatus status);

// True for the statuses that mean "malformed or truncated" (as opposed to "not IP").
constexpr bool is_malformed(ParseStatus s) { return s != ParseStatus::ok && s != ParseStatus::non_ip; }

// Per-reason counters of skipped frames, owned by one worker.
struct ParseCounters {
  std::array<std::uint64_t, kParseStatusCount> by_status{};

  void count(ParseStatus s) { ++by_status[static_cast<std::size_t>(s)]; }
  std::uint64_t operator[](ParseStatus s) const { return by_status[static_cast<std::size_t>(s)]; }
  std::uint64_t skipped() const;    // every status except ok
  std::uint64_t malformed() const;  // every status except ok and non_ip
  ParseCounters& operator+=(const ParseCounters& other);
};

}  // namespace netflowd
