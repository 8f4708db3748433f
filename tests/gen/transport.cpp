#include "transport.hpp"

#include <array>

namespace nfgen {

namespace {

std::uint8_t pick_tcp_flags(const Flow& f, Rng& rng) {
  if (f.datagrams_sent == 0) return rng.chance(100) ? 0xC2 : 0x02;  // SYN, sometimes ECN-setup SYN (ECE|CWR)
  if (f.packets_left <= 1) {
    static constexpr std::array<std::uint8_t, 3> closing = {0x11, 0x04, 0x14};  // FIN|ACK, RST, RST|ACK
    return closing[rng.below(closing.size())];
  }
  const std::uint32_t r = rng.below(100);
  if (r < 55) return 0x10;  // ACK
  if (r < 90) return 0x18;  // PSH|ACK
  if (r < 95) return 0x38;  // URG|PSH|ACK
  return 0x50;              // ECE|ACK
}

// SYN: MSS, SACK-permitted, timestamps, NOP, window scale (20 bytes).
void put_syn_options(Bytes& b, Rng& rng) {
  put_bytes(b, std::array<std::uint8_t, 4>{2, 4, 0x05, 0xB4});
  put_bytes(b, std::array<std::uint8_t, 2>{4, 2});
  put_bytes(b, std::array<std::uint8_t, 2>{8, 10});
  put_u32(b, rng.u32());
  put_u32(b, 0);
  put_bytes(b, std::array<std::uint8_t, 4>{1, 3, 3, 7});
}

// NOP, NOP, timestamps (12 bytes).
void put_timestamp_option(Bytes& b, Rng& rng) {
  put_bytes(b, std::array<std::uint8_t, 4>{1, 1, 8, 10});
  put_u32(b, rng.u32());
  put_u32(b, rng.u32());
}

void build_tcp(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  Bytes& b = out.bytes;
  const std::uint8_t flags = pick_tcp_flags(f, rng);
  const bool syn = (flags & 0x02) != 0;
  const bool with_ts = !syn && rng.chance(300);
  const std::size_t options_len = syn ? 20 : with_ts ? 12 : 0;
  const std::size_t header_len = 20 + options_len;
  if (syn || (flags & 0x04)) payload_len = 0;
  put_u16(b, f.sport);
  put_u16(b, f.dport);
  put_u32(b, f.tcp_seq);
  put_u32(b, (flags & 0x10) ? rng.u32() : 0);
  put_u8(b, static_cast<std::uint8_t>((header_len / 4) << 4));
  put_u8(b, flags);
  put_u16(b, static_cast<std::uint16_t>(rng.range(512, 65535)));
  put_u16(b, 0);  // checksum, patched below
  put_u16(b, (flags & 0x20) ? static_cast<std::uint16_t>(1 + rng.below(16)) : 0);
  if (syn)
    put_syn_options(b, rng);
  else if (with_ts)
    put_timestamp_option(b, rng);
  put_bytes(b, pool.slice(rng, payload_len));
  set_u16(b, 16, pseudo_header_checksum(f, b, ipproto::tcp));
  out.header_len = header_len;
}

// UDP and UDP-Lite share the layout; UDP-Lite's length field is the checksum
// coverage, 0 meaning "the whole datagram".
void build_udp(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  Bytes& b = out.bytes;
  put_u16(b, f.sport);
  put_u16(b, f.dport);
  put_u16(b, f.proto == ipproto::udplite ? 0 : static_cast<std::uint16_t>(8 + payload_len));
  put_u16(b, 0);
  put_bytes(b, pool.slice(rng, payload_len));
  std::uint16_t sum = pseudo_header_checksum(f, b, f.proto);
  set_u16(b, 6, sum == 0 ? 0xFFFF : sum);  // 0 would mean "no checksum"
  out.header_len = 8;
}

// Error messages quote the offending datagram: an IP header plus the first
// 8 bytes (a UDP header) and a little of its payload.
void put_quoted_datagram(const Flow& f, Rng& rng, const PayloadPool& pool, Bytes& b) {
  const std::size_t quoted_payload = rng.below(48);
  const auto udp_len = static_cast<std::uint16_t>(8 + quoted_payload);
  if (f.family == 4) {
    put_simple_ipv4_header(b, f.dst, f.src, ipproto::udp, static_cast<std::uint16_t>(20 + udp_len), rng.u16());
  } else {
    put_u32(b, 0x60000000U);
    put_u16(b, udp_len);
    put_u8(b, ipproto::udp);
    put_u8(b, 64);
    put_bytes(b, f.dst);
    put_bytes(b, f.src);
  }
  put_u16(b, static_cast<std::uint16_t>(rng.range(ports::client_min, ports::client_max)));
  put_u16(b, static_cast<std::uint16_t>(rng.range(ports::server_min, ports::server_max)));
  put_u16(b, udp_len);
  put_u16(b, 0);
  put_bytes(b, pool.slice(rng, quoted_payload));
}

void build_icmp(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  Bytes& b = out.bytes;
  const bool v6 = f.family == 6;
  const bool echo = v6 ? f.icmp_type >= 128 : (f.icmp_type == 0 || f.icmp_type == 8);
  put_u8(b, f.icmp_type);
  put_u8(b, f.icmp_code);
  put_u16(b, 0);
  if (echo) {
    put_u16(b, static_cast<std::uint16_t>(f.tcp_seq));  // identifier, constant per flow
    put_u16(b, static_cast<std::uint16_t>(f.datagrams_sent));
    put_bytes(b, pool.slice(rng, payload_len));
  } else {
    std::uint32_t rest = 0;
    if (v6 && f.icmp_type == 2)
      rest = 1280;  // packet too big: MTU
    else if (v6 && f.icmp_type == 4)
      rest = 40;  // parameter problem: pointer past the header
    else if (!v6 && f.icmp_type == 3 && f.icmp_code == 4)
      rest = 1400;  // fragmentation needed: next-hop MTU
    put_u32(b, rest);
    put_quoted_datagram(f, rng, pool, b);
  }
  const std::uint16_t sum = v6 ? pseudo_header_checksum(f, b, ipproto::icmpv6) : [&b] {
    InternetChecksum c;
    c.add(b);
    return c.finish();
  }();
  set_u16(b, 2, sum);
  out.header_len = 8;
}

// GRE (RFC 2784, no optional fields) carrying a small IPv4 ICMP echo.
void build_gre(Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  Bytes& b = out.bytes;
  put_u16(b, 0);
  put_u16(b, 0x0800);
  if (payload_len > 256) payload_len = 256;
  const Addr inner_src{10, 200, rng.u8(), rng.u8()};
  const Addr inner_dst{10, 201, rng.u8(), rng.u8()};
  put_simple_ipv4_header(b, inner_src, inner_dst, ipproto::icmp, static_cast<std::uint16_t>(20 + 8 + payload_len),
                         rng.u16());
  const std::size_t icmp_start = b.size();
  put_bytes(b, std::array<std::uint8_t, 4>{8, 0, 0, 0});
  put_u32(b, rng.u32());
  put_bytes(b, pool.slice(rng, payload_len));
  InternetChecksum c;
  c.add(std::span<const std::uint8_t>(b).subspan(icmp_start));
  set_u16(b, icmp_start + 2, c.finish());
  out.header_len = 4;
}

// ESP: SPI, sequence number, then opaque (encrypted) bytes.
void build_esp(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  Bytes& b = out.bytes;
  put_u32(b, f.spi);
  put_u32(b, f.datagrams_sent + 1);
  put_bytes(b, pool.slice(rng, 16 + payload_len));
  out.header_len = 8;
}

// SCTP common header + one DATA chunk carrying at least one byte.
void build_sctp(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  Bytes& b = out.bytes;
  if (payload_len == 0) payload_len = 1;
  put_u16(b, f.sport);
  put_u16(b, f.dport);
  put_u32(b, f.tcp_seq | 1U);  // verification tag, constant per flow
  put_u32(b, 0);
  put_u8(b, 0);     // DATA
  put_u8(b, 0x03);  // B|E: unfragmented user message
  put_u16(b, static_cast<std::uint16_t>(16 + payload_len));
  put_u32(b, f.tcp_seq + f.datagrams_sent);  // TSN
  put_u16(b, 0);                             // stream id
  put_u16(b, static_cast<std::uint16_t>(f.datagrams_sent));
  put_u32(b, 0);  // PPID
  put_bytes(b, pool.slice(rng, payload_len));
  put_zeros(b, (4 - payload_len % 4) % 4);
  // RFC 4960 appendix B: the CRC goes on the wire least significant byte first.
  const std::uint32_t crc = crc32c(b);
  b[8] = static_cast<std::uint8_t>(crc);
  b[9] = static_cast<std::uint8_t>(crc >> 8);
  b[10] = static_cast<std::uint8_t>(crc >> 16);
  b[11] = static_cast<std::uint8_t>(crc >> 24);
  out.header_len = 12;
}

}  // namespace

void put_simple_ipv4_header(Bytes& b, const Addr& src, const Addr& dst, std::uint8_t proto, std::uint16_t total_len,
                            std::uint16_t id) {
  const std::size_t start = b.size();
  put_u8(b, 0x45);
  put_u8(b, 0);
  put_u16(b, total_len);
  put_u16(b, id);
  put_u16(b, 0);
  put_u8(b, 64);
  put_u8(b, proto);
  put_u16(b, 0);
  put_bytes(b, std::span<const std::uint8_t>(src.data(), 4));
  put_bytes(b, std::span<const std::uint8_t>(dst.data(), 4));
  InternetChecksum c;
  c.add(std::span<const std::uint8_t>(b).subspan(start, 20));
  set_u16(b, start + 10, c.finish());
}

std::uint16_t pseudo_header_checksum(const Flow& f, std::span<const std::uint8_t> message, std::uint8_t proto) {
  InternetChecksum c;
  const std::size_t addr_len = f.family == 4 ? 4 : 16;
  c.add(std::span<const std::uint8_t>(f.src.data(), addr_len));
  c.add(std::span<const std::uint8_t>(f.dst.data(), addr_len));
  c.add_u32(static_cast<std::uint32_t>(message.size()));
  c.add_u16(proto);
  c.add(message);
  return c.finish();
}

void build_transport(const Flow& f, Rng& rng, const PayloadPool& pool, std::size_t payload_len, TransportMessage& out) {
  out.bytes.clear();
  switch (f.proto) {
    case ipproto::tcp: build_tcp(f, rng, pool, payload_len, out); break;
    case ipproto::udp:
    case ipproto::udplite: build_udp(f, rng, pool, payload_len, out); break;
    case ipproto::icmp:
    case ipproto::icmpv6: build_icmp(f, rng, pool, payload_len, out); break;
    case ipproto::gre: build_gre(rng, pool, payload_len, out); break;
    case ipproto::esp: build_esp(f, rng, pool, payload_len, out); break;
    case ipproto::sctp: build_sctp(f, rng, pool, payload_len, out); break;
    default: put_bytes(out.bytes, pool.slice(rng, payload_len)); out.header_len = 0;
  }
}

}  // namespace nfgen
