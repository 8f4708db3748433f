// Wraps transport messages into IPv4/IPv6 packets, fragmenting some of them,
// and records for each resulting packet the key netflowd must account it under.
#pragma once

#include "model.hpp"
#include "payload.hpp"
#include "rng.hpp"
#include "transport.hpp"

#include <vector>

namespace nfgen {

struct L3Packet {
  Bytes bytes;
  FlowKey key;
  std::uint64_t accounted_bytes = 0;  // IPv4 total length / IPv6 payload length + 40
  bool fragment = false;
};

class IpBuilder {
 public:
  IpBuilder(Rng& rng, const PayloadPool& pool) : rng_(rng), pool_(pool) {}

  // Emits the next datagram of f as 1..max_packets packets into out
  // (fragments past max_packets are dropped, as if the capture ended).
  // Returns how many packets were written. Advances the flow's state.
  std::size_t next_datagram(Flow& f, std::size_t max_packets, std::vector<L3Packet>& out);

 private:
  std::size_t pick_payload_len(bool fragmenting);
  void put_ipv4_header(const Flow& f, Bytes& b, std::size_t payload_len, std::uint16_t frag_field, std::uint16_t id);
  void put_ipv6_headers(const Flow& f, Bytes& b, std::size_t payload_len, bool fragmented, std::uint16_t frag_field,
                        std::uint32_t id);
  FlowKey key_for(const Flow& f, bool non_first_fragment) const;

  Rng& rng_;
  const PayloadPool& pool_;
  TransportMessage message_;
};

}  // namespace nfgen
