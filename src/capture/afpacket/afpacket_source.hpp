// Frames from a network interface through an AF_PACKET TPACKET_V3 ring: pkt_netflow's
// standalone mode, and ipt_NETFLOW's promisc hack for mirrored traffic.
//
// The ring is memory shared with the kernel (no copy, no system call per frame); a block is
// handed back to the kernel when every frame in it was processed. Only the first
// kAfPacketSnapLength bytes of a frame are copied into the ring (a socket filter truncates
// them); the frame's real length comes with it. Ring drops are read from PACKET_STATISTICS.
#pragma once

#include <linux/if_packet.h>

#include <cstdint>
#include <string>

#include "capture/capture_source.hpp"
#include "common/unique_fd.hpp"

namespace netflowd {

inline constexpr std::uint32_t kAfPacketSnapLength = 256;

struct AfPacketOptions {
  bool promiscuous = false;
  std::uint32_t block_size = 1u << 20;  // bytes per ring block
  std::uint32_t block_count = 32;
  // Rings of the same interface opened with the same fanout group share its packets: the
  // kernel gives each packet to the ring of the worker that owns its flow (a fanout program,
  // common/flow_shard.hpp), or by its own flow hash where programs are not supported. 0: no
  // fanout. Rings must join in the order of fanout_index, 0 first: the kernel numbers them so.
  std::uint16_t fanout_group = 0;
  unsigned fanout_index = 0;
};

class AfPacketSource final : public CaptureSource {
 public:
  // Throws SetupError (no such interface, not root, ...).
  AfPacketSource(const std::string& interface, const AfPacketOptions& options);
  ~AfPacketSource() override;
  AfPacketSource(const AfPacketSource&) = delete;
  AfPacketSource& operator=(const AfPacketSource&) = delete;

  NextResult next(CapturedFrame& frame) override;
  LinkType link_type() const override { return link_; }
  std::string name() const override { return "interface " + interface_; }
  const CaptureStats& stats() const override;
  int poll_fd() const override { return fd_.get(); }
  int preferred_worker() const override { return steered_ ? static_cast<int>(ring_index_) : -1; }
  std::string error() const override { return error_; }
  std::uint32_t ifindex() const { return ifindex_; }

 private:
  void release_block();

  std::string interface_;
  std::uint32_t ifindex_ = 0;
  LinkType link_ = LinkType::ethernet;
  UniqueFd fd_;
  std::uint8_t* ring_ = nullptr;
  std::size_t ring_size_ = 0;
  AfPacketOptions options_;
  std::uint32_t block_ = 0;                // current block
  tpacket_block_desc* current_ = nullptr;  // owned by us while non-null
  std::uint32_t left_in_block_ = 0;
  bool steered_ = false;  // the kernel sends this ring the flows of worker ring_index_
  unsigned ring_index_ = 0;
  tpacket3_hdr* next_frame_ = nullptr;
  mutable CaptureStats stats_;
  std::string error_;
};

}  // namespace netflowd
