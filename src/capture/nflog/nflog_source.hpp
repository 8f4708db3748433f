// Packets from iptables/ip6tables `-j NFLOG --nflog-group N` and nftables `log group N`:
// the user-space equivalent of ipt_NETFLOW's `-j NETFLOW` target.
//
// One netlink socket bound to one log group. The kernel copies only the first
// kNflogCopyRange bytes of each packet (enough for every header netflowd reads) and sends
// them in batches. Per-instance sequence numbers (NFULA_SEQ) reveal every packet the kernel
// could not deliver (socket buffer overrun), which are counted as source drops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "capture/capture_source.hpp"

struct mnl_socket;

namespace netflowd {

inline constexpr std::uint32_t kNflogCopyRange = 256;
// What one recv() takes: a batch the kernel sends (nflog_source.cpp: up to twice its 64 KiB
// batch buffer), with room to spare. A batch larger than this is cut short and counted as an
// overrun; the packets it loses show as a sequence gap (source_drops).
inline constexpr std::size_t kNflogBatchBuffer = 256 * 1024;

// The packets of NFLOG batches (what one recv() returned), apart from the socket, so that any
// bytes can be fed to it (tests/fuzz/nflog.cpp). Counts the frames it yields and the packets
// the sequence numbers (NFULA_SEQ) show missing (source_drops) in the CaptureStats it is given.
// Messages that are not NFLOG packets are skipped; a message whose length does not fit the
// rest of the batch ends the batch.
class NflogBatchReader {
 public:
  // A new batch: `length` bytes at `batch`, 4-byte aligned, valid until the next start().
  void start(const std::uint8_t* batch, std::size_t length) {
    batch_ = batch;
    length_ = length;
    pos_ = 0;
  }
  // The batch's next packet into `frame` (its bytes point into the batch); false at its end.
  bool next(CapturedFrame& frame, CaptureStats& stats);

 private:
  bool decode(const std::uint8_t* message, CapturedFrame& frame, CaptureStats& stats);

  const std::uint8_t* batch_ = nullptr;
  std::size_t length_ = 0;
  std::size_t pos_ = 0;  // next message in the batch
  bool have_seq_ = false;
  std::uint32_t next_seq_ = 0;
};

class NflogSource final : public CaptureSource {
 public:
  // Throws SetupError (not root, group already bound by another program, ...).
  // `receive_buffer_bytes`: the socket's buffer (SO_RCVBUF), 0 for the system's default;
  // `batch_buffer_bytes`: what one recv() takes (smaller only in tests of cut-short batches).
  NflogSource(std::uint16_t group, int receive_buffer_bytes, std::size_t batch_buffer_bytes = kNflogBatchBuffer);
  ~NflogSource() override;
  NflogSource(const NflogSource&) = delete;
  NflogSource& operator=(const NflogSource&) = delete;

  NextResult next(CapturedFrame& frame) override;
  // The payload is the network-layer packet; the version nibble tells IPv4 from IPv6.
  LinkType link_type() const override { return LinkType::raw_ip; }
  std::string name() const override { return "nflog group " + std::to_string(group_); }
  const CaptureStats& stats() const override { return stats_; }
  int poll_fd() const override;
  std::string error() const override { return error_; }
  std::uint16_t group() const { return group_; }

 private:
  void configure(std::uint16_t group);
  bool receive_batch();  // false when nothing is queued

  mnl_socket* nl_ = nullptr;
  std::uint16_t group_;
  std::vector<std::uint32_t> buf_;  // 4-byte aligned, as netlink messages are
  NflogBatchReader reader_;
  CaptureStats stats_;
  std::string error_;
};

}  // namespace netflowd
