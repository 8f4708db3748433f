#include "flow_factory.hpp"

#include <array>

namespace nfgen {

namespace {

Addr random_ipv4(Rng& rng) {
  Addr a{};
  std::uint32_t v = 0;
  switch (rng.below(5)) {
    case 0: v = 0x0A000000U | (rng.u32() & 0x00FFFFFFU); break;  // 10/8
    case 1: v = 0xC0A80000U | (rng.u32() & 0x0000FFFFU); break;  // 192.168/16
    case 2: v = 0xAC100000U | (rng.u32() & 0x000FFFFFU); break;  // 172.16/12
    case 3: v = 0xC6336400U | rng.below(256); break;             // 198.51.100/24, few hosts: key collisions
    default:
      // Anything routable-looking: first octet 1..223 except 127.
      do {
        v = rng.u32();
      } while ((v >> 24) == 0 || (v >> 24) == 127 || (v >> 24) >= 224);
  }
  a[0] = static_cast<std::uint8_t>(v >> 24);
  a[1] = static_cast<std::uint8_t>(v >> 16);
  a[2] = static_cast<std::uint8_t>(v >> 8);
  a[3] = static_cast<std::uint8_t>(v);
  return a;
}

Addr random_ipv6(Rng& rng) {
  Addr a{};
  switch (rng.below(3)) {
    case 0:  // 2001:db8:X::Y, exercises "::" compression in inet_ntop
      a = {0x20, 0x01, 0x0d, 0xb8};
      a[4] = rng.u8();
      a[5] = rng.u8();
      a[14] = static_cast<std::uint8_t>(rng.below(2));
      a[15] = static_cast<std::uint8_t>(1 + rng.below(255));
      break;
    case 1:  // link-local with a random interface id
      a[0] = 0xfe;
      a[1] = 0x80;
      for (std::size_t i = 8; i < 16; ++i) a[i] = rng.u8();
      break;
    default:  // fully random global unicast 2000::/3
      for (auto& byte : a) byte = rng.u8();
      a[0] = static_cast<std::uint8_t>(0x20 | (a[0] & 0x1F));
  }
  return a;
}

std::uint8_t random_tos(Rng& rng) {
  // 70 % best effort; the rest: common DSCPs, ECN bits, or anything.
  static constexpr std::array<std::uint8_t, 7> common = {0x10, 0x08, 0xB8, 0x28, 0x48, 0x01, 0x03};
  if (rng.chance(700)) return 0;
  if (rng.chance(800)) return common[rng.below(common.size())];
  // Not 0xFF: a raw-IP frame starting 45 ff 03 is taken for PPP by
  // tshark's raw dissector, which would spoil the tshark cross-check.
  return static_cast<std::uint8_t>(rng.below(255));
}

std::uint8_t random_proto(Rng& rng) {
  const std::uint32_t r = rng.below(1000);
  if (r < 500) return ipproto::tcp;
  if (r < 800) return ipproto::udp;
  if (r < 920) return ipproto::icmp;  // mapped to ICMPv6 for IPv6 flows
  if (r < 940) return ipproto::sctp;
  if (r < 960) return ipproto::udplite;
  if (r < 980) return ipproto::gre;
  return ipproto::esp;
}

// Ports away from tshark dissectors (see model.hpp), plus a few web ports
// whose dissector (HTTP) copes with the letters-only payload.
std::uint16_t random_sport(Rng& rng) {
  return static_cast<std::uint16_t>(rng.range(ports::client_min, ports::client_max));
}

std::uint16_t random_dport(Rng& rng, std::uint8_t proto) {
  if (proto == ipproto::tcp && rng.chance(400)) {
    static constexpr std::array<std::uint16_t, 3> web = {80, 443, 8080};
    return web[rng.below(web.size())];
  }
  return static_cast<std::uint16_t>(rng.range(ports::server_min, ports::server_max));
}

void pick_icmp(Rng& rng, Flow& f) {
  struct TypeCode {
    std::uint8_t type, code;
  };
  // Only types whose body we build properly (echo, or error + quoted header).
  static constexpr std::array<TypeCode, 9> v4 = {
      {{8, 0}, {0, 0}, {8, 0}, {3, 0}, {3, 1}, {3, 3}, {3, 4}, {11, 0}, {11, 1}}};
  static constexpr std::array<TypeCode, 10> v6 = {
      {{128, 0}, {129, 0}, {128, 0}, {1, 0}, {1, 3}, {1, 4}, {2, 0}, {3, 0}, {3, 1}, {4, 1}}};
  const TypeCode tc = f.family == 4 ? v4[rng.below(v4.size())] : v6[rng.below(v6.size())];
  f.icmp_type = tc.type;
  f.icmp_code = tc.code;
}

void pick_l2(Rng& rng, const FlowFactoryOptions& opts, Flow& f) {
  for (auto& b : f.l2.src_mac) b = rng.u8();
  for (auto& b : f.l2.dst_mac) b = rng.u8();
  f.l2.src_mac[0] = static_cast<std::uint8_t>((f.l2.src_mac[0] & 0xFC) | 0x02);  // local, unicast
  f.l2.dst_mac[0] = static_cast<std::uint8_t>((f.l2.dst_mac[0] & 0xFC) | 0x02);
  if (!opts.allow_vlan) return;
  const std::uint32_t r = rng.below(1000);
  // TCI: PCP 3 bits, DEI, 12-bit VID (1..4094)
  auto tci = [&rng] { return static_cast<std::uint16_t>((rng.below(8) << 13) | rng.range(1, 4094)); };
  if (r < 150) {
    f.l2.vlan = VlanMode::dot1q;
    f.l2.outer_tci = tci();
  } else if (r < 200) {
    f.l2.vlan = VlanMode::qinq;
    f.l2.outer_tci = tci();
    f.l2.inner_tci = tci();
  }
}

std::uint32_t packet_budget(Rng& rng, bool heavy) {
  if (heavy) return rng.range(2000, 20000);
  const std::uint32_t r = rng.below(100);
  if (r < 60) return rng.range(1, 8);
  if (r < 95) return rng.range(9, 40);
  return rng.range(41, 200);
}

}  // namespace

Flow make_flow(Rng& rng, const FlowFactoryOptions& opts, bool heavy) {
  Flow f;
  f.family = rng.chance(250) ? 6 : 4;
  f.src = f.family == 4 ? random_ipv4(rng) : random_ipv6(rng);
  f.dst = f.family == 4 ? random_ipv4(rng) : random_ipv6(rng);
  f.proto = random_proto(rng);
  if (f.proto == ipproto::icmp) {
    if (f.family == 6) f.proto = ipproto::icmpv6;
    pick_icmp(rng, f);
  } else if (f.proto == ipproto::esp) {
    f.spi = rng.u32() | 0x100U;  // SPIs 0..255 are reserved
  } else if (f.proto != ipproto::gre) {
    f.sport = random_sport(rng);
    f.dport = random_dport(rng, f.proto);
  }
  f.tos = random_tos(rng);
  f.flow_label = rng.u32() & 0xFFFFFU;
  f.ttl = static_cast<std::uint8_t>(rng.range(32, 255));
  if (f.family == 4) {
    f.ipv4_options = rng.chance(50);
  } else {
    const std::uint32_t r = rng.below(1000);
    f.ipv6_ext = r < 100 ? Ipv6Ext::hop_by_hop : r < 200 ? Ipv6Ext::dest_opts : Ipv6Ext::none;
  }
  // Fragment some UDP, ICMP echo and (rarely) TCP flows: later fragments have
  // no ports and so land in a different key than the first fragment.
  const bool echo =
      (f.proto == ipproto::icmp && f.icmp_type == 8) || (f.proto == ipproto::icmpv6 && f.icmp_type == 128);
  if ((f.proto == ipproto::udp || echo) && rng.chance(100))
    f.fragment_per_mille = 300;
  else if (f.proto == ipproto::tcp && rng.chance(20))
    f.fragment_per_mille = 200;
  pick_l2(rng, opts, f);
  f.packets_left = packet_budget(rng, heavy);
  f.tcp_seq = rng.u32();
  f.ip_id = rng.u16();
  return f;
}

}  // namespace nfgen
