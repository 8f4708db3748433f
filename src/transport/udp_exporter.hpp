// UDP transport: one connected socket per destination; every datagram goes to all of them
// (mirroring, reference section 3), with per-destination error accounting.
//
// Thread affinity: owned and used by the export thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "export/datagram_sink.hpp"
#include "transport/destination.hpp"

namespace netflowd {

struct SocketStats {
  std::uint64_t sent_datagrams = 0;
  std::uint64_t sent_bytes = 0;
  std::uint64_t err_sndbuf = 0;   // send buffer full (EAGAIN/ENOBUFS): datagram not sent there
  std::uint64_t err_connect = 0;  // failed connect attempts (no route, ...)
  std::uint64_t err_cberr = 0;    // ICMP errors (port unreachable, ...) read from the error queue
  std::uint64_t err_refused = 0;  // datagrams not sent because such an error was pending
  std::uint64_t err_other = 0;
  std::uint64_t batched_sends = 0;  // system calls that carried several datagrams (UDP_SEGMENT)
  bool connected = false;
  bool segmentation = false;  // runs of datagrams go out in one system call (see UdpExporterOptions)
  int sndbuf = 0;             // SO_SNDBUF as the kernel reports it
};

struct UdpExporterOptions {
  int sndbuf = 0;          // bytes; 0 keeps the system default
  std::uint32_t rate = 0;  // datagrams per second per destination; 0 = unpaced
  // Wait for send-buffer space instead of dropping (offline replay: nothing may be lost).
  bool wait_when_full = false;
  // Unpaced only: a run of datagrams of one size (the last may be shorter) is handed to the
  // kernel in one system call with UDP segmentation offload (UDP_SEGMENT); the kernel, or the
  // network card, cuts it into the same datagrams on the wire. A socket whose kernel or route
  // refuses it sends one datagram per system call.
  bool segmentation = true;
};

class UdpExporter final : public DatagramSink {
 public:
  // Throws SetupError when a socket cannot be created or bound (a missing %interface, a bind
  // address that is not local). An unreachable destination is not an error: it is retried.
  UdpExporter(std::vector<Destination> destinations, UdpExporterOptions options);

  // With segmentation, a datagram may wait in the exporter for the next ones of its size
  // (at most kMaxRun of them) until flush(); its totals are counted when it is sent.
  void send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) override;
  void flush() override;

  std::size_t size() const { return sockets_.size(); }
  const Destination& destination(std::size_t i) const { return sockets_[i].destination; }
  const SocketStats& socket_stats(std::size_t i) const { return sockets_[i].stats; }
  // Destination i's socket (for socket options in tests).
  int native_handle(std::size_t i) const { return sockets_[i].fd.get(); }
  // The local UDP port of destination i's socket (to recognise our own datagrams).
  std::uint16_t local_port(std::size_t i) const;
  ExportTotals totals() const override { return totals_; }
  void poll_errors() override;
  std::uint64_t errors() const;  // all send failures and ICMP errors, for a one-line summary

 private:
  // Most datagrams in one segmented send (the kernel's UDP_MAX_SEGMENTS) and most bytes (below
  // the largest IPv4 and IPv6 UDP payloads).
  static constexpr std::size_t kMaxRun = 64;
  static constexpr std::size_t kMaxRunBytes = 65'000;

  struct Socket {
    Destination destination;
    UniqueFd fd;
    SocketStats stats;
    // Recently sent datagrams by NetFlow sequence key, to tell which one an ICMP error is about.
    struct SentDatagram {
      std::uint64_t key = 0;  // NetFlow version and sequence number
      std::uint64_t id = 0;
      std::uint64_t run = 0;  // id of the first datagram of the system call that sent it
    };
    std::deque<SentDatagram> sent;
  };
  // A recent datagram and how many destinations failed to take it.
  struct Tracked {
    DatagramContents contents;
    std::size_t bytes = 0;
    std::uint32_t failures = 0;
    bool delivered_counted = false;
    bool lost = false;
  };
  void open(Socket& s);
  bool try_connect(Socket& s);
  enum class Sent { yes, no, refused_segmentation };
  // Sends `bytes` (`count` datagrams of `segment` bytes, the last possibly shorter; segment 0:
  // one datagram) on one socket.
  Sent send_on(Socket& s, std::span<const std::uint8_t> bytes, std::uint16_t segment, std::size_t count);
  // Sends the run (run_count_ datagrams from id run_first_id_) to every destination and
  // counts each datagram delivered or lost.
  void send_run(std::span<const std::uint8_t> run);
  void account(std::uint64_t id, std::size_t bytes, std::uint32_t failures);
  void drain_errors(Socket& s);
  void failed(std::uint64_t id);  // one more destination did not get datagram `id`
  void pace();

  std::vector<Socket> sockets_;
  UdpExporterOptions options_;
  ExportTotals totals_;
  std::deque<Tracked> tracked_;  // the last kTracked datagrams; front has id first_tracked_
  std::uint64_t first_tracked_ = 0;
  std::chrono::steady_clock::time_point next_send_{};

  // The run of datagrams not sent yet: kept back only while segmentation is on.
  std::size_t run_limit_ = 0;  // most bytes of a run; 0: every datagram is sent at once
  std::vector<std::uint8_t> run_;
  std::size_t run_segment_ = 0;  // size of the run's datagrams but the last
  std::size_t run_count_ = 0;
  std::uint64_t run_first_id_ = 0;
  std::array<std::pair<bool, std::uint64_t>, kMaxRun> run_keys_{};  // sequence keys, if any
};

}  // namespace netflowd
