// Aggregation rules (the `aggregation` parameter, reference 8.1): rewrite addresses and ports
// before the flow key is formed, so that many flows meter as one.
//
//   A.B.C.D/M=N   IPv4 network rule: an address whose top M bits equal A.B.C.D/M is cut to
//                 its top N bits (address & /N)
//   P1-P2=P       port rule: a TCP/UDP/SCTP/UDP-Lite port in P1..P2 becomes P
//   P=Q           single-port rule: port P becomes Q
//
// Rules are separated by space , ; tab or newline; the first matching rule of each kind wins,
// independently for source and destination. Unlike upstream, which stops silently at the first
// token it cannot parse (keeping the rules before it) and reads an uninitialised bound for
// `P=Q`, a bad token rejects the whole value, and `P=Q` matches exactly P. The exported prefix
// length (v5 src_mask/dst_mask, IE 9/13) is the length the address was cut to (N), not M.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "packet/parsed_packet.hpp"

namespace netflowd {

struct NetworkRule {
  std::uint32_t network = 0;  // host order, already masked to match_length
  std::uint8_t match_length = 0;
  std::uint8_t strip_length = 0;
};

struct PortRule {
  std::uint16_t low = 0;
  std::uint16_t high = 0;
  std::uint16_t replacement = 0;
};

class AggregationRules {
 public:
  // Throws ParameterError("aggregation", reason naming the token).
  static AggregationRules parse(std::string_view text);

  bool empty() const { return networks_.empty() && ports_.empty(); }
  std::size_t size() const { return networks_.size() + ports_.size(); }

  // Rewrites the packet in place and sets its prefix lengths. `usage` (size()) counts how often
  // each rule matched: network rules first, then port rules, in definition order.
  void apply(ParsedPacket& p, std::vector<std::uint64_t>& usage) const;

  // One line per rule, as `netflowctl stat` shows them.
  std::vector<std::string> describe() const;

 private:
  std::vector<NetworkRule> networks_;
  std::vector<PortRule> ports_;
};

}  // namespace netflowd
