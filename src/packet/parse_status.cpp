#include "packet/parse_status.hpp"

namespace netflowd {

std::string_view to_string(ParseStatus status) {
  switch (status) {
    case ParseStatus::ok: return "ok";
    case ParseStatus::non_ip: return "non_ip";
    case ParseStatus::truncated_l2: return "truncated_l2";
    case ParseStatus::too_many_vlan_tags: return "too_many_vlan_tags";
    case ParseStatus::too_many_mpls_labels: return "too_many_mpls_labels";
    case ParseStatus::truncated_ip: return "truncated_ip";
    case ParseStatus::bad_ip_version: return "bad_ip_version";
    case ParseStatus::bad_ip_header_length: return "bad_ip_header_length";
    case ParseStatus::bad_ip_total_length: return "bad_ip_total_length";
    case ParseStatus::truncated_l4: return "truncated_l4";
    case ParseStatus::count_: break;
  }
  return "unknown";
}

std::uint64_t ParseCounters::skipped() const {
  std::uint64_t n = 0;
  for (std::size_t i = 1; i < kParseStatusCount; ++i) n += by_status[i];
  return n;
}

std::uint64_t ParseCounters::malformed() const { return skipped() - (*this)[ParseStatus::non_ip]; }

ParseCounters& ParseCounters::operator+=(const ParseCounters& other) {
  for (std::size_t i = 0; i < kParseStatusCount; ++i) by_status[i] += other.by_status[i];
  return *this;
}

}  // namespace netflowd
