// Reads a capture file: classic pcap with netflowd's own block reader, pcapng with libpcap.
//
// Classic pcap (the format tcpdump, nfgen and most replays write) is read with large read()
// calls into one buffer and handed out in place: no stdio, no copy per packet, so reading
// costs a few nanoseconds per frame (libpcap's pcap_next_ex copies every record out of a
// stdio stream, which was a fifth of netflowd's time on a replay). Works on regular files,
// pipes and FIFOs alike. Any other format (pcapng) goes to libpcap, which is handed the bytes
// already read through a stdio cookie, so a pipe works there too.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "capture/capture_source.hpp"
#include "common/unique_fd.hpp"

struct pcap;  // libpcap's handle, kept out of this header

namespace netflowd {

class PcapFileSource final : public CaptureSource {
 public:
  // Throws SetupError if the file cannot be opened, is not a capture, or its link type is not
  // supported.
  explicit PcapFileSource(const std::string& path);
  ~PcapFileSource() override;

  NextResult next(CapturedFrame& frame) override;
  LinkType link_type() const override { return link_; }
  std::string name() const override { return "file " + path_; }
  const CaptureStats& stats() const override { return stats_; }
  std::string error() const override { return error_; }

  // "pcap" (own reader) or "libpcap" (pcapng and anything else libpcap reads).
  const char* reader() const { return handle_ != nullptr ? "libpcap" : "pcap"; }

 private:
  struct Cookie;

  NextResult next_classic(CapturedFrame& frame);
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
