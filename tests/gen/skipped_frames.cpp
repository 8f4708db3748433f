#include "skipped_frames.hpp"

namespace nfgen {

namespace {

void random_l2(Rng& rng, LinkType link, L2Info& l2) {
  for (auto& b : l2.src_mac) b = rng.u8();
  l2.src_mac[0] = static_cast<std::uint8_t>((l2.src_mac[0] & 0xFC) | 0x02);
  l2.dst_mac = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  l2.vlan = VlanMode::none;
  if (link != LinkType::raw && rng.chance(200)) {
    l2.vlan = VlanMode::dot1q;
    l2.outer_tci = static_cast<std::uint16_t>(rng.range(1, 4094));
  }
}

void make_arp(Rng& rng, Bytes& b) {
  put_u16(b, 1);       // Ethernet
  put_u16(b, 0x0800);  // IPv4
  put_u8(b, 6);
  put_u8(b, 4);
  put_u16(b, 1);  // request
  for (int i = 0; i < 6; ++i) put_u8(b, rng.u8());
  put_bytes(b, std::array<std::uint8_t, 4>{192, 168, 0, static_cast<std::uint8_t>(1 + rng.below(254))});
  put_zeros(b, 6);
  put_bytes(b, std::array<std::uint8_t, 4>{192, 168, 0, static_cast<std::uint8_t>(1 + rng.below(254))});
}

// A plausible IPv4 header whose fields the caller then breaks.
void put_ipv4(Rng& rng, Bytes& b, std::uint8_t version_ihl, std::uint16_t total_len, std::uint8_t proto) {
  put_u8(b, version_ihl);
  put_u8(b, 0);
  put_u16(b, total_len);
  put_u16(b, rng.u16());
  put_u16(b, 0);
  put_u8(b, 64);
  put_u8(b, proto);
  const std::size_t checksum_at = b.size();
  put_u16(b, 0);
  put_bytes(b, std::array<std::uint8_t, 8>{10, 99, rng.u8(), rng.u8(), 10, 98, rng.u8(), rng.u8()});
  if ((version_ihl & 0x0F) >= 5 && (version_ihl >> 4) == 4) {
    InternetChecksum c;
    c.add(std::span<const std::uint8_t>(b).subspan(checksum_at - 10, 20));
    set_u16(b, checksum_at, c.finish());
  }
}

void put_ipv6(Rng& rng, Bytes& b, std::uint16_t payload_len, std::uint8_t next) {
  put_u32(b, 0x60000000U);
  put_u16(b, payload_len);
  put_u8(b, next);
  put_u8(b, 64);
  put_bytes(b, std::array<std::uint8_t, 4>{0x20, 0x01, 0x0d, 0xb8});
  put_zeros(b, 11);
  put_u8(b, rng.u8());
  put_bytes(b, std::array<std::uint8_t, 4>{0x20, 0x01, 0x0d, 0xb8});
  put_zeros(b, 11);
  put_u8(b, rng.u8());
}

// A TCP header cut after `len` bytes (1..19).
void put_partial_tcp(Rng& rng, Bytes& b, std::size_t len) {
  Bytes tcp;
  put_u16(tcp, static_cast<std::uint16_t>(rng.range(ports::client_min, ports::client_max)));
  put_u16(tcp, static_cast<std::uint16_t>(rng.range(ports::server_min, ports::server_max)));
  put_u32(tcp, rng.u32());
  put_u32(tcp, rng.u32());
  put_u16(tcp, 0x5010);
  put_u16(tcp, 1024);
  put_u32(tcp, 0);
  b.insert(b.end(), tcp.begin(), tcp.begin() + static_cast<std::ptrdiff_t>(len));
}

}  // namespace

void make_skipped_frame(Rng& rng, const PayloadPool& pool, LinkType link, bool non_ip, SkippedFrame& out) {
  out.l3.clear();
  out.pad = true;
  random_l2(rng, link, out.l2);
  Bytes& b = out.l3;
  if (non_ip) {
    out.kind = SkipKind::arp;
    out.ethertype = ethertype::arp;
    make_arp(rng, b);
    return;
  }
  out.kind = static_cast<SkipKind>(1 + rng.below(skip_kind_count - 1));
  out.ethertype = ethertype::ipv4;
  switch (out.kind) {
    case SkipKind::arp: break;
    case SkipKind::ipv4_bad_ihl:
      put_ipv4(rng, b, static_cast<std::uint8_t>(0x40 | rng.below(5)), 40, ipproto::udp);
      put_bytes(b, pool.slice(rng, 20));
      break;
    case SkipKind::ipv4_len_beyond_frame: {
      const std::size_t have = rng.range(8, 600);
      put_ipv4(rng, b, 0x45, static_cast<std::uint16_t>(20 + have + rng.range(100, 800)), ipproto::udp);
      put_bytes(b, pool.slice(rng, have));
      break;
    }
    case SkipKind::ipv4_len_below_header:
      // Not 0: capture tools read 0 as "TSO, use the frame length".
      put_ipv4(rng, b, 0x45, static_cast<std::uint16_t>(rng.range(1, 19)), ipproto::udp);
      put_bytes(b, pool.slice(rng, 20));
      break;
    case SkipKind::ipv4_truncated_tcp: {
      const std::size_t tcp_len = rng.range(1, 19);
      put_ipv4(rng, b, 0x45, static_cast<std::uint16_t>(20 + tcp_len), ipproto::tcp);
      put_partial_tcp(rng, b, tcp_len);
      break;
    }
    case SkipKind::ipv6_len_beyond_frame: {
      out.ethertype = ethertype::ipv6;
      const std::size_t have = rng.range(8, 600);
      put_ipv6(rng, b, static_cast<std::uint16_t>(have + rng.range(100, 800)), ipproto::udp);
      put_bytes(b, pool.slice(rng, have));
      break;
    }
    case SkipKind::ipv6_truncated_tcp: {
      out.ethertype = ethertype::ipv6;
      const std::size_t tcp_len = rng.range(1, 19);
      put_ipv6(rng, b, static_cast<std::uint16_t>(tcp_len), ipproto::tcp);
      put_partial_tcp(rng, b, tcp_len);
      break;
    }
    case SkipKind::ipv6_cut_header:
      out.ethertype = ethertype::ipv6;
      out.pad = false;  // padding would complete the header with zeros
      put_ipv6(rng, b, 64, ipproto::udp);
      b.resize(rng.range(1, 39));
      break;
    case SkipKind::bad_version: {
      // Any nibble but 4 and 6 (6 behind an IPv4 ethertype is "IPv6 in
      // disguise" to some parsers; raw captures cannot tell it apart at all).
      static constexpr std::array<std::uint8_t, 14> versions = {0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15};
      const std::uint8_t version = versions[rng.below(versions.size())];
      put_ipv4(rng, b, static_cast<std::uint8_t>(version << 4 | 5), 48, ipproto::udp);
      put_bytes(b, pool.slice(rng, 28));
      break;
    }
    case SkipKind::count_: break;
  }
}

}  // namespace nfgen
