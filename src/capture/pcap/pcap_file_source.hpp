// Reads a capture file: classic pcap with netflowd's own block reader, pcapng with libpcap.
//
// Classic pcap (the format tcpdump, nfgen and most replays write) is read with large read()
// calls into one buffer and handed out in place: no stdio, no copy per packet, so reading
// costs a few nanoseconds per frame (libpcap's pcap_next_ex copies every record out of a
// stdio stream, which was a fifth of netflowd's time on a replay). Works on regular files,
// pipes and FIFOs alike. Any other format (pcapng) goes to libpcap, which is handed the bytes
// already read through a stdio cookie, so a pipe works there too.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capture/capture_source.hpp"
#include "common/time.hpp"
#include "common/unique_fd.hpp"

struct pcap;  // libpcap's handle, kept out of this header

namespace netflowd {

namespace pcap_detail {
inline constexpr std::size_t kRecordHeader = 16;
// Larger records than this are not frames but a corrupt file (libpcap's own limit is 256 KiB
// for Ethernet; this leaves room for jumbo and GSO-sized captures).
inline constexpr std::uint32_t kMaxRecord = 16u << 20;
inline std::uint32_t load32(const std::uint8_t* p, bool swapped) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}
}  // namespace pcap_detail

class PcapFileSource final : public CaptureSource {
 public:
  // Throws SetupError if the file cannot be opened, is not a capture, or its link type is not
  // supported.
  explicit PcapFileSource(const std::string& path);
  ~PcapFileSource() override;

  // Inline for the common case, a whole classic record already in the buffer, so that a
  // caller that knows the type reads a frame without a call; the rest out of line.
  NextResult next(CapturedFrame& frame) override {
    using namespace pcap_detail;
    if (handle_ == nullptr && end_ - pos_ >= kRecordHeader) {
      const std::uint8_t* h = buffer_.data() + pos_;
      const std::uint32_t caplen = load32(h + 8, swapped_);
      if (caplen <= kMaxRecord && caplen <= end_ - pos_ - kRecordHeader) {
        take_record(frame, h, caplen);
        return NextResult::frame;
      }
    }
    return next_slow(frame);
  }
  LinkType link_type() const override { return link_; }
  std::string name() const override { return "file " + path_; }
  const CaptureStats& stats() const override { return stats_; }
  std::string error() const override { return error_; }

  // "pcap" (own reader) or "libpcap" (pcapng and anything else libpcap reads).
  const char* reader() const { return handle_ != nullptr ? "libpcap" : "pcap"; }

 private:
  struct Cookie;

  NextResult next_slow(CapturedFrame& frame);
  NextResult next_classic(CapturedFrame& frame);
  // Hands out the classic record at `h` (pos_), whose `caplen` bytes are all in the buffer.
  void take_record(CapturedFrame& frame, const std::uint8_t* h, std::uint32_t caplen) {
    using pcap_detail::load32;
    const std::uint32_t seconds = load32(h, swapped_);
    const std::uint32_t fraction = load32(h + 4, swapped_);
    frame.bytes = std::span<const std::uint8_t>(h + pcap_detail::kRecordHeader, caplen);
    frame.wire_length = load32(h + 12, swapped_);
    frame.meta.reset(static_cast<TimeUs>(seconds) * kUsPerSecond + (nanoseconds_ ? fraction / 1000 : fraction));
    pos_ += pcap_detail::kRecordHeader + caplen;
    ++stats_.frames;
  }
  NextResult next_libpcap(CapturedFrame& frame);
  // Makes at least `want` unread bytes available at pos_ (fewer at the end of the input).
  bool fill(std::size_t want);
  void open_libpcap();

  // Own reader state (classic pcap).
  UniqueFd fd_;
  std::vector<std::uint8_t> buffer_;
  std::size_t pos_ = 0;  // next unread byte in buffer_
  std::size_t end_ = 0;  // bytes of buffer_ holding data
  bool eof_ = false;
  bool swapped_ = false;
  bool nanoseconds_ = false;
  std::uint32_t snaplen_ = 0;

  // libpcap fallback.
  pcap* handle_ = nullptr;
  std::unique_ptr<Cookie> cookie_;

  LinkType link_ = LinkType::ethernet;
  CaptureStats stats_;
  std::string error_;
  std::string path_;
};

}  // namespace netflowd
