// Synthetic traffic for the micro benchmarks: realistic frames built once, outside the timing.
#pragma once

#include <cstdint>
#include <vector>

namespace netflowd::bench {

// Ethernet/IPv4/TCP and Ethernet/IPv6/UDP frames over `flows` distinct 5-tuples.
inline std::vector<std::vector<std::uint8_t>> make_frames(std::size_t count, std::uint32_t flows) {
  std::vector<std::vector<std::uint8_t>> frames;
  frames.reserve(count);
  std::uint64_t x = 0x2545F4914F6CDD1Dull;
  for (std::size_t i = 0; i < count; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::uint32_t flow = static_cast<std::uint32_t>(x % flows);
    std::vector<std::uint8_t> f = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    const bool v6 = flow % 4 == 0;
    auto u8 = [&f](unsigned v) { f.push_back(static_cast<std::uint8_t>(v)); };
    auto u16 = [&](unsigned v) {
      u8(v >> 8);
      u8(v);
    };
    auto u32 = [&](std::uint32_t v) {
      u16(v >> 16);
      u16(v & 0xffff);
    };
    if (v6) {
      u16(0x86dd);
      u32(0x60000000);
      u16(8 + 100);
      u8(17);
      u8(64);
      for (int k = 0; k < 12; ++k) u8(k == 0 ? 0x20 : 0);
      u32(flow);
      for (int k = 0; k < 16; ++k) u8(k == 15 ? 1 : 0);
      u16(1024 + (flow & 0x7fff));
      u16(53);
      u16(108);
      u16(0);
    } else {
      u16(0x0800);
      u8(0x45);
      u8(0);
      u16(20 + 20 + 100);
      u16(0);
      u16(0);
      u8(64);
      u8(6);
      u16(0);
      u32(0x0a000000 | flow);
      u32(0xc0a80001);
      u16(1024 + (flow & 0x7fff));
      u16(443);
      u32(1);
      u32(0);
      u8(0x50);
      u8(0x10);
      u16(1024);
      u32(0);
    }
    f.resize(f.size() + 100, 0);
    frames.push_back(std::move(f));
  }
  return frames;
}

}  // namespace netflowd::bench
