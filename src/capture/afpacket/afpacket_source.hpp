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
#include "common/time.hpp"
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

  // Inline, so that a caller that knows the type reads a frame without a call; only the
  // switch to the next block is out of line.
  NextResult next(CapturedFrame& frame) override {
    if (left_in_block_ == 0 && !next_block()) return NextResult::idle;  // the caller polls poll_fd()
    take_frame(frame);
    return NextResult::frame;
  }
  LinkType link_type() const override { return link_; }
  std::string name() const override { return "interface " + interface_; }
  const CaptureStats& stats() const override;
  int poll_fd() const override { return fd_.get(); }
  int preferred_worker() const override { return steered_ ? static_cast<int>(ring_index_) : -1; }
  std::string error() const override { return error_; }
  std::uint32_t ifindex() const { return ifindex_; }

 private:
  void release_block();
  // Gives the processed block back and takes the next one if the kernel has handed it over.
  bool next_block();
  void take_frame(CapturedFrame& frame) {
    tpacket3_hdr* h = next_frame_;
    --left_in_block_;
    next_frame_ = reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<std::uint8_t*>(h) + h->tp_next_offset);
    // The kernel wrote the next frame from another CPU: start fetching its header and first
    // bytes (where the packet headers are) while this one is parsed.
    if (left_in_block_ > 0) {
      __builtin_prefetch(next_frame_);
      __builtin_prefetch(reinterpret_cast<const std::uint8_t*>(next_frame_) + 64);
    }
    const auto* sll = reinterpret_cast<const sockaddr_ll*>(reinterpret_cast<const std::uint8_t*>(h) +
                                                           TPACKET_ALIGN(sizeof(tpacket3_hdr)));
    frame.bytes = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(h) + h->tp_mac, h->tp_snaplen);
    frame.wire_length = h->tp_len;
    PacketMeta& m = frame.meta;
    m.reset(static_cast<TimeUs>(h->tp_sec) * kUsPerSecond + h->tp_nsec / 1000);
    if (sll->sll_pkttype == PACKET_OUTGOING) {
      m.direction = FlowDirection::egress;
      m.out_ifindex = static_cast<std::uint32_t>(sll->sll_ifindex);
    } else {
      m.direction = FlowDirection::ingress;
      m.in_ifindex = static_cast<std::uint32_t>(sll->sll_ifindex);
    }
    if (h->tp_status & TP_STATUS_VLAN_VALID) {
      m.has_stripped_vlan = true;
      m.stripped_vlan_tci = static_cast<std::uint16_t>(h->hv1.tp_vlan_tci);
    }
    ++stats_.frames;
  }

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
