// The contract every packet source keeps (pcap file, AF_PACKET ring, NFLOG socket).
//
// Thread affinity: a source is used by one worker thread. The frame handed out by next()
// stays valid until the following call to next().
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "packet/link_type.hpp"
#include "packet/packet_meta.hpp"

namespace netflowd {

struct CapturedFrame {
  std::span<const std::uint8_t> bytes;  // captured bytes
  std::uint32_t wire_length = 0;        // length on the wire
  PacketMeta meta;
};

struct CaptureStats {
  std::uint64_t frames = 0;        // handed out by next()
  std::uint64_t source_drops = 0;  // lost before netflowd saw them (ring/socket drops)
  // Times the kernel said at once that it had to drop (NFLOG: the socket overflowed, ENOBUFS;
  // AF_PACKET: the ring was full and froze). How many packets that cost shows in source_drops,
  // for NFLOG only with the next packet that arrives (its sequence number).
  std::uint64_t overruns = 0;
};

// frame: one frame handed out; idle: nothing at hand (live sources never wait for the kernel:
// the caller polls poll_fd()); end: no more frames (end of a file); error: see error().
enum class NextResult : std::uint8_t { frame, idle, end, error };

class CaptureSource {
 public:
  virtual ~CaptureSource() = default;
  virtual NextResult next(CapturedFrame& frame) = 0;
  virtual LinkType link_type() const = 0;
  // For statistics: "file x.pcap", "nflog group 5", "interface eth0".
  virtual std::string name() const = 0;
  virtual const CaptureStats& stats() const = 0;
  // A descriptor that polls readable (POLLIN) when next() may have a frame again after it
  // returned idle; -1 for sources that never return idle (files).
  virtual int poll_fd() const { return -1; }
  // The worker (modulo the number of workers) whose flows the kernel already picks out for
  // this source (an AF_PACKET ring in a steered fanout group), so that it reads this source
  // and meters most packets without handing them on; -1: any worker.
  virtual int preferred_worker() const { return -1; }
  // Describes the last error after next() returned NextResult::error.
  virtual std::string error() const = 0;
};

}  // namespace netflowd
