#include "bytes.hpp"

namespace nfgen {

namespace {

struct Crc32cTable {
  std::array<std::uint32_t, 256> entries{};
  Crc32cTable() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78U : c >> 1;
      entries[i] = c;
    }
  }
};

}  // namespace

std::uint32_t crc32c(std::span<const std::uint8_t> data) {
  static const Crc32cTable table;
  std::uint32_t crc = 0xFFFFFFFFU;
  for (std::uint8_t byte : data) crc = table.entries[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace nfgen
