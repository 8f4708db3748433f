#include "pcap_writer.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nfgen {

namespace {

constexpr std::uint32_t snaplen = 262144;

// pcap headers are in the writer's byte order; we always write little endian
// so the file is identical whatever machine made it.
void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

void store_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

}  // namespace

PcapWriter::PcapWriter(const std::string& path, std::uint32_t linktype) : path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  std::array<std::uint8_t, 24> header{};
  store_le32(&header[0], 0xA1B2C3D4U);
  store_le16(&header[4], 2);
  store_le16(&header[6], 4);
  // thiszone and sigfigs stay 0
  store_le32(&header[16], snaplen);
  store_le32(&header[20], linktype);
  failed_ = std::fwrite(header.data(), 1, header.size(), file_) != header.size();
}

PcapWriter::~PcapWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void PcapWriter::write(std::uint64_t timestamp_us, std::span<const std::uint8_t> frame) {
  std::array<std::uint8_t, 16> record{};
  store_le32(&record[0], static_cast<std::uint32_t>(timestamp_us / 1000000));
  store_le32(&record[4], static_cast<std::uint32_t>(timestamp_us % 1000000));
  store_le32(&record[8], static_cast<std::uint32_t>(frame.size()));   // captured = original length:
  store_le32(&record[12], static_cast<std::uint32_t>(frame.size()));  // nothing is snapped
  failed_ |= std::fwrite(record.data(), 1, record.size(), file_) != record.size();
  failed_ |= std::fwrite(frame.data(), 1, frame.size(), file_) != frame.size();
}

void PcapWriter::close() {
  const bool close_failed = std::fclose(file_) != 0;
  file_ = nullptr;
  if (failed_ || close_failed) throw std::runtime_error("write error on " + path_);
}

}  // namespace nfgen
