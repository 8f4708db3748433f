// Reads a pcap or pcapng file with libpcap.
#pragma once

#include <memory>
#include <string>

#include "capture/capture_source.hpp"

struct pcap;  // libpcap's handle, kept out of this header

namespace netflowd {

class PcapFileSource final : public CaptureSource {
 public:
  // Throws SetupError if the file cannot be opened or its link type is not supported.
  explicit PcapFileSource(const std::string& path);
  ~PcapFileSource() override;

  NextResult next(CapturedFrame& frame) override;
  LinkType link_type() const override { return link_; }
  std::string name() const override { return "file " + path_; }
  const CaptureStats& stats() const override { return stats_; }
  std::string error() const override { return error_; }

 private:
  pcap* handle_ = nullptr;
  LinkType link_ = LinkType::ethernet;
  CaptureStats stats_;
  std::string error_;
  std::string path_;
};

}  // namespace netflowd
