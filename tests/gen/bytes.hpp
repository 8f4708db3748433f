// Network-order byte helpers and the checksums the generated packets carry.
// Checksums are made correct so that tshark (and any strict parser in
// netflowd) sees well-formed traffic except where we break it on purpose.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace nfgen {

using Bytes = std::vector<std::uint8_t>;
using Addr = std::array<std::uint8_t, 16>;  // IPv4 uses the first 4 bytes

inline void put_u8(Bytes& b, std::uint8_t v) { b.push_back(v); }

inline void put_u16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

inline void put_u32(Bytes& b, std::uint32_t v) {
  put_u16(b, static_cast<std::uint16_t>(v >> 16));
  put_u16(b, static_cast<std::uint16_t>(v));
}

inline void put_bytes(Bytes& b, std::span<const std::uint8_t> src) { b.insert(b.end(), src.begin(), src.end()); }

inline void put_zeros(Bytes& b, std::size_t n) { b.insert(b.end(), n, std::uint8_t{0}); }

inline void set_u16(Bytes& b, std::size_t off, std::uint16_t v) {
  b[off] = static_cast<std::uint8_t>(v >> 8);
  b[off + 1] = static_cast<std::uint8_t>(v);
}

inline void set_u32(Bytes& b, std::size_t off, std::uint32_t v) {
  set_u16(b, off, static_cast<std::uint16_t>(v >> 16));
  set_u16(b, off + 2, static_cast<std::uint16_t>(v));
}

// RFC 1071 one's-complement sum, accumulated in 64 bits and folded at the end.
class InternetChecksum {
 public:
  void add(std::span<const std::uint8_t> data) {
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum_ += static_cast<std::uint64_t>(data[i]) << 8 | data[i + 1];
    if (i < data.size()) sum_ += static_cast<std::uint64_t>(data[i]) << 8;
  }
  void add_u16(std::uint16_t v) { sum_ += v; }
  void add_u32(std::uint32_t v) { sum_ += (v >> 16) + (v & 0xFFFF); }

  std::uint16_t finish() const {
    std::uint64_t s = sum_;
    while (s >> 16) s = (s & 0xFFFF) + (s >> 16);
    return static_cast<std::uint16_t>(~s & 0xFFFF);
  }

 private:
  std::uint64_t sum_ = 0;
};

// CRC32c (Castagnoli), as SCTP uses it; bitwise table built once.
std::uint32_t crc32c(std::span<const std::uint8_t> data);

}  // namespace nfgen
