#include "ip_builder.hpp"

#include <algorithm>
#include <array>

namespace nfgen {

namespace {

constexpr std::size_t round_up8(std::size_t n) { return (n + 7) / 8 * 8; }

// IPv4 options (multiples of 4 bytes) picked per packet; tshark-valid forms.
void put_ipv4_options(Bytes& b, Rng& rng) {
  switch (rng.below(3)) {
    case 0: put_bytes(b, std::array<std::uint8_t, 4>{0x94, 4, 0, 0}); break;  // router alert
    case 1: put_bytes(b, std::array<std::uint8_t, 4>{1, 1, 1, 0}); break;     // NOP NOP NOP EOL
    default:                                                                  // record route, 2 empty slots, EOL
      put_bytes(b, std::array<std::uint8_t, 3>{7, 11, 4});
      put_zeros(b, 8);
      put_u8(b, 0);
  }
}

}  // namespace

std::size_t IpBuilder::pick_payload_len(bool fragmenting) {
  if (fragmenting) return rng_.range(256, 3500);
  const std::uint32_t r = rng_.below(100);
  if (r < 60) return rng_.below(65);
  if (r < 90) return rng_.range(65, 512);
  return rng_.range(513, 1400);
}

FlowKey IpBuilder::key_for(const Flow& f, bool non_first_fragment) const {
  FlowKey k;
  k.family = f.family;
  k.src = f.src;
  k.dst = f.dst;
  k.proto = f.proto;
  k.tos = f.tos;
  if (non_first_fragment) return k;  // no L4 header in this packet: ports 0
  switch (f.proto) {
    case ipproto::tcp:
    case ipproto::udp:
    case ipproto::sctp:
    case ipproto::udplite:
      k.sport = f.sport;
      k.dport = f.dport;
      break;
    case ipproto::icmp:
    case ipproto::icmpv6: k.dport = static_cast<std::uint16_t>(f.icmp_type << 8 | f.icmp_code); break;
    case ipproto::esp:
      k.sport = static_cast<std::uint16_t>(f.spi >> 16);
      k.dport = static_cast<std::uint16_t>(f.spi & 0xFFFF);
      break;
    default: break;
  }
  return k;
}

void IpBuilder::put_ipv4_header(const Flow& f, Bytes& b, std::size_t payload_len, std::uint16_t frag_field,
                                std::uint16_t id) {
  Bytes options;
  if (f.ipv4_options) put_ipv4_options(options, rng_);
  const std::size_t header_len = 20 + options.size();
  const std::size_t start = b.size();
  put_u8(b, static_cast<std::uint8_t>(0x40 | header_len / 4));
  put_u8(b, f.tos);
  put_u16(b, static_cast<std::uint16_t>(header_len + payload_len));
  put_u16(b, id);
  put_u16(b, frag_field);
  put_u8(b, f.ttl);
  put_u8(b, f.proto);
  put_u16(b, 0);
  put_bytes(b, std::span<const std::uint8_t>(f.src.data(), 4));
  put_bytes(b, std::span<const std::uint8_t>(f.dst.data(), 4));
  put_bytes(b, options);
  InternetChecksum c;
  c.add(std::span<const std::uint8_t>(b).subspan(start, header_len));
  set_u16(b, start + 10, c.finish());
}

// Fixed header, optional hop-by-hop or destination-options header, optional
// fragment header; payload_len counts only what follows these headers.
void IpBuilder::put_ipv6_headers(const Flow& f, Bytes& b, std::size_t payload_len, bool fragmented,
                                 std::uint16_t frag_field, std::uint32_t id) {
  const std::uint8_t after_ext = fragmented ? ipproto::fragment : f.proto;
  const std::size_t ext_len = (f.ipv6_ext != Ipv6Ext::none ? 8 : 0) + (fragmented ? 8 : 0);
  put_u32(b, 0x60000000U | static_cast<std::uint32_t>(f.tos) << 20 | f.flow_label);
  put_u16(b, static_cast<std::uint16_t>(ext_len + payload_len));
  switch (f.ipv6_ext) {
    case Ipv6Ext::none: put_u8(b, after_ext); break;
    case Ipv6Ext::hop_by_hop: put_u8(b, ipproto::hop_by_hop); break;
    case Ipv6Ext::dest_opts: put_u8(b, ipproto::dest_opts); break;
  }
  put_u8(b, f.ttl);
  put_bytes(b, f.src);
  put_bytes(b, f.dst);
  if (f.ipv6_ext == Ipv6Ext::hop_by_hop)
    put_bytes(b, std::array<std::uint8_t, 8>{after_ext, 0, 5, 2, 0, 0, 1, 0});  // router alert (MLD), Pad2
  else if (f.ipv6_ext == Ipv6Ext::dest_opts)
    put_bytes(b, std::array<std::uint8_t, 8>{after_ext, 0, 1, 4, 0, 0, 0, 0});  // PadN
  if (fragmented) {
    put_u8(b, f.proto);
    put_u8(b, 0);
    put_u16(b, frag_field);
    put_u32(b, id);
  }
}

std::size_t IpBuilder::next_datagram(Flow& f, std::size_t max_packets, std::vector<L3Packet>& out) {
  const bool fragmenting = f.fragment_per_mille != 0 && rng_.chance(f.fragment_per_mille);
  build_transport(f, rng_, pool_, pick_payload_len(fragmenting), message_);
  const std::span<const std::uint8_t> msg(message_.bytes);

  // Fragment boundaries: multiples of 8, the first fragment carries the
  // whole transport header (so its ports are readable), at most ~5 pieces.
  std::size_t piece = msg.size();
  if (fragmenting && msg.size() >= round_up8(message_.header_len) + 8) {
    piece = std::max({round_up8(message_.header_len), round_up8(rng_.range(64, 1400)), round_up8(msg.size() / 4)});
    if (piece >= msg.size()) piece = round_up8(message_.header_len);
  }
  const bool fragmented = piece < msg.size();
  const std::uint16_t id4 = f.ip_id++;
  const std::uint32_t id6 = rng_.u32();

  std::size_t count = 0;
  for (std::size_t off = 0; off < msg.size() && count < max_packets; off += piece, ++count) {
    const std::size_t len = std::min(piece, msg.size() - off);
    const bool more = off + len < msg.size();
    if (out.size() <= count) out.emplace_back();
    L3Packet& p = out[count];
    p.bytes.clear();
    if (f.family == 4) {
      // DF on some unfragmented packets; MF + offset on fragments.
      const std::uint16_t frag_field =
          fragmented ? static_cast<std::uint16_t>((more ? 0x2000 : 0) | off / 8) : (rng_.chance(500) ? 0x4000 : 0);
      put_ipv4_header(f, p.bytes, len, frag_field, id4);
      p.accounted_bytes = p.bytes.size() + len;
    } else {
      const auto frag_field = static_cast<std::uint16_t>(off | (more ? 1 : 0));  // offset already a multiple of 8
      put_ipv6_headers(f, p.bytes, len, fragmented, frag_field, id6);
      p.accounted_bytes = p.bytes.size() + len;  // = 40 + payload length
    }
    put_bytes(p.bytes, msg.subspan(off, len));
    p.key = key_for(f, off != 0);
    p.fragment = fragmented;
  }

  if (f.proto == ipproto::tcp) f.tcp_seq += static_cast<std::uint32_t>(msg.size() - message_.header_len);
  ++f.datagrams_sent;
  return count;
}

}  // namespace nfgen
