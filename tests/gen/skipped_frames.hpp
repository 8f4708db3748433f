// Frames netflowd must read but not count: non-IP (ARP) and malformed IP.
// Each kind is one way a parser can be fooled into reading past the data
// or mis-accounting; they are counted per kind for the summary.
#pragma once

#include "model.hpp"
#include "payload.hpp"
#include "rng.hpp"

#include <array>
#include <string_view>

namespace nfgen {

enum class SkipKind : std::uint8_t {
  arp,                    // non-IP
  ipv4_bad_ihl,           // IHL < 5
  ipv4_len_beyond_frame,  // total length larger than the frame holds
  ipv4_len_below_header,  // total length smaller than the header
  ipv4_truncated_tcp,     // total length ends inside the TCP header (padding follows)
  ipv6_len_beyond_frame,  // payload length larger than the frame holds
  ipv6_truncated_tcp,     // payload length ends inside the TCP header
  ipv6_cut_header,        // frame ends inside the 40-byte IPv6 header (a runt, not padded)
  bad_version,            // IPv4 ethertype, version nibble not 4 (raw: neither 4 nor 6)
  count_
};

inline constexpr std::size_t skip_kind_count = static_cast<std::size_t>(SkipKind::count_);

inline constexpr std::array<std::string_view, skip_kind_count> skip_kind_names = {"arp",
                                                                                  "ipv4_bad_ihl",
                                                                                  "ipv4_len_beyond_frame",
                                                                                  "ipv4_len_below_header",
                                                                                  "ipv4_truncated_tcp",
                                                                                  "ipv6_len_beyond_frame",
                                                                                  "ipv6_truncated_tcp",
                                                                                  "ipv6_cut_header",
                                                                                  "bad_version"};

struct SkippedFrame {
  SkipKind kind = SkipKind::arp;
  std::uint16_t ethertype = 0;
  bool pad = true;
  L2Info l2;
  Bytes l3;  // the bytes after the link header / VLAN tags
};

// non_ip selects ARP (never requested for raw captures); otherwise a random
// malformed kind.
void make_skipped_frame(Rng& rng, const PayloadPool& pool, LinkType link, bool non_ip, SkippedFrame& out);

}  // namespace nfgen
