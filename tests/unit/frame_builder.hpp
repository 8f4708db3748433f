// Builds test frames byte by byte, big-endian, with no help from the code under test.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace netflowd::test {

class FrameBuilder {
 public:
  FrameBuilder& u8(std::uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  FrameBuilder& u16(std::uint16_t v) { return u8(static_cast<std::uint8_t>(v >> 8)).u8(static_cast<std::uint8_t>(v)); }
  FrameBuilder& u32(std::uint32_t v) {
    return u16(static_cast<std::uint16_t>(v >> 16)).u16(static_cast<std::uint16_t>(v));
  }
  FrameBuilder& raw(std::initializer_list<std::uint8_t> list) {
    bytes_.insert(bytes_.end(), list.begin(), list.end());
    return *this;
  }
  FrameBuilder& zeros(std::size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  // Ethernet header with the given EtherType (MACs 02:00:00:00:00:02 <- 02:00:00:00:00:01).
  FrameBuilder& ethernet(std::uint16_t ethertype) {
    raw({2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1});
    return u16(ethertype);
  }
  FrameBuilder& vlan(std::uint16_t tci, std::uint16_t next_ethertype) { return u16(tci).u16(next_ethertype); }
  // IPv4 header without options; `total` is the total length field.
  FrameBuilder& ipv4(std::uint8_t proto, std::uint16_t total, std::uint32_t src = 0x0a000001,
                     std::uint32_t dst = 0x0a000002, std::uint8_t tos = 0, std::uint16_t frag = 0,
                     std::uint8_t ihl = 5) {
    u8(static_cast<std::uint8_t>(0x40 | ihl)).u8(tos).u16(total).u16(0x1234).u16(frag).u8(64).u8(proto).u16(0);
    return u32(src).u32(dst);
  }
  FrameBuilder& ipv6(std::uint8_t next, std::uint16_t payload, std::uint8_t tclass = 0, std::uint32_t label = 0) {
    u32(0x60000000u | (std::uint32_t{tclass} << 20) | (label & 0xfffff)).u16(payload).u8(next).u8(64);
    raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    return raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  }
  FrameBuilder& tcp(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint8_t data_offset = 5) {
    u16(sport).u16(dport).u32(1).u32(0).u8(static_cast<std::uint8_t>(data_offset << 4)).u8(flags);
    return u16(1024).u16(0).u16(0);
  }
  FrameBuilder& udp(std::uint16_t sport, std::uint16_t dport, std::uint16_t length) {
    return u16(sport).u16(dport).u16(length).u16(0);
  }

  std::size_t size() const { return bytes_.size(); }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

}  // namespace netflowd::test
