// Builds the transport-layer message (header + payload, checksummed) of one
// datagram of a flow. Fragmentation happens afterwards on this byte string,
// exactly as a sending IP stack would do it.
#pragma once

#include "model.hpp"
#include "payload.hpp"
#include "rng.hpp"

namespace nfgen {

struct TransportMessage {
  Bytes bytes;
  std::size_t header_len = 0;  // bytes a first fragment must carry so ports/type are readable
};

// payload_len is a hint for the application payload; message types with a
// fixed body (ICMP errors, ...) may use a different size.
void build_transport(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out);

// Appends a complete 20-byte IPv4 header (no options) with a valid checksum;
// also used for packets quoted in ICMP errors and carried in GRE.
void put_simple_ipv4_header(Bytes& b, const Addr& src, const Addr& dst, std::uint8_t proto, std::uint16_t total_len,
                            std::uint16_t id);

// Upper-layer checksum with the IPv4 or IPv6 pseudo header (RFC 768/2460).
std::uint16_t pseudo_header_checksum(const Flow& f, std::span<const std::uint8_t> message, std::uint8_t proto);

}  // namespace nfgen
