// Classic libpcap file format (magic a1b2c3d4, microsecond timestamps),
// written by hand: no libpcap dependency and full control over every byte.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace nfgen {

class PcapWriter {
 public:
  PcapWriter(const std::string& path, std::uint32_t linktype);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  void write(std::uint64_t timestamp_us, std::span<const std::uint8_t> frame);
  // Flushes and closes; throws if anything failed on the way.
  void close();

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  bool failed_ = false;
};

}  // namespace nfgen
