// Big-endian writer over a caller-owned buffer, with bounds checks.
//
// Wire formats are written field by field with this writer; there is no struct overlay on
// the wire. A write that would overflow writes nothing and latches failed(), so an encoder
// can write a whole record and check once.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace netflowd {

class ByteWriter {
 public:
  explicit ByteWriter(std::span<std::uint8_t> buffer) : buf_(buffer) {}

  std::size_t size() const { return pos_; }
  std::size_t remaining() const { return buf_.size() - pos_; }
  bool failed() const { return failed_; }

  void put_u8(std::uint8_t v) {
    if (reserve(1)) buf_[pos_++] = v;
  }
  // Network byte order: one byte swap and one store each (the wire is big-endian, hosts
  // that run this are little-endian; std::endian::native keeps a big-endian host right).
  void put_u16(std::uint16_t v) { put_be(v); }
  void put_u32(std::uint32_t v) { put_be(v); }
  void put_u64(std::uint64_t v) { put_be(v); }
  void put_bytes(std::span<const std::uint8_t> bytes) {
    if (!reserve(bytes.size())) return;
    std::memcpy(buf_.data() + pos_, bytes.data(), bytes.size());
    pos_ += bytes.size();
  }
  void put_zeros(std::size_t n) {
    if (!reserve(n)) return;
    std::memset(buf_.data() + pos_, 0, n);
    pos_ += n;
  }
  // The next `n` bytes, to be filled in by the caller (store_be), or nullptr when they do not
  // fit (which latches failed(), as the put_ functions do).
  std::uint8_t* claim(std::size_t n) {
    if (!reserve(n)) return nullptr;
    std::uint8_t* p = buf_.data() + pos_;
    pos_ += n;
    return p;
  }
  // `v` in network byte order at `p`.
  template <typename T>
  static void store_be(std::uint8_t* p, T v) {
    if constexpr (std::endian::native == std::endian::little && sizeof v > 1) v = swap_bytes(v);
    std::memcpy(p, &v, sizeof v);
  }
  // Overwrites a 16-bit value at an earlier offset (for length fields known at the end).
  void patch_u16(std::size_t offset, std::uint16_t v) {
    if (offset + 2 > pos_) {
      failed_ = true;
      return;
    }
    buf_[offset] = static_cast<std::uint8_t>(v >> 8);
    buf_[offset + 1] = static_cast<std::uint8_t>(v);
  }

 private:
  static std::uint16_t swap_bytes(std::uint16_t v) { return __builtin_bswap16(v); }
  static std::uint32_t swap_bytes(std::uint32_t v) { return __builtin_bswap32(v); }
  static std::uint64_t swap_bytes(std::uint64_t v) { return __builtin_bswap64(v); }

  template <typename T>
  void put_be(T v) {
    if (!reserve(sizeof v)) return;
    if constexpr (std::endian::native == std::endian::little) v = swap_bytes(v);
    std::memcpy(buf_.data() + pos_, &v, sizeof v);
    pos_ += sizeof v;
  }

  bool reserve(std::size_t n) {
    if (failed_ || n > remaining()) {
      failed_ = true;
      return false;
    }
    return true;
  }

  std::span<std::uint8_t> buf_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace netflowd
