// UDP transport: one connected socket per destination; every datagram goes to all of them
// (mirroring, reference section 3), with per-destination error accounting.
//
// Thread affinity: owned and used by the export thread only.
#pragma once

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
  bool connected = false;
  int sndbuf = 0;  // SO_SNDBUF as the kernel reports it
};

struct UdpExporterOptions {
  int sndbuf = 0;          // bytes; 0 keeps the system default
  std::uint32_t rate = 0;  // datagrams per second per destination; 0 = unpaced
  // Wait for send-buffer space instead of dropping (offline replay: nothing may be lost).
  bool wait_when_full = false;
};

class UdpExporter final : public DatagramSink {
 public:
  // Throws SetupError when a socket cannot be created or bound (a missing %interface, a bind
  // address that is not local). An unreachable destination is not an error: it is retried.
  UdpExporter(std::vector<Destination> destinations, UdpExporterOptions options);

  void send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) override;

  std::size_t size() const { return sockets_.size(); }
  const Destination& destination(std::size_t i) const { return sockets_[i].destination; }
  const SocketStats& socket_stats(std::size_t i) const { return sockets_[i].stats; }
  // The local UDP port of destination i's socket (to recognise our own datagrams).
  std::uint16_t local_port(std::size_t i) const;
  ExportTotals totals() const override { return totals_; }
  void poll_errors() override;
  std::uint64_t errors() const;  // all send failures and ICMP errors, for a one-line summary

 private:
  struct Socket {
    Destination destination;
    UniqueFd fd;
    SocketStats stats;
    // Recently sent datagrams by NetFlow sequence key, to tell which one an ICMP error is about.
    std::deque<std::pair<std::uint64_t, std::uint64_t>> sent;  // (sequence key, datagram id)
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
  bool send_one(Socket& s, std::span<const std::uint8_t> datagram);
  void drain_errors(Socket& s);
  void failed(std::uint64_t id);  // one more destination did not get datagram `id`
  void pace();

  std::vector<Socket> sockets_;
  UdpExporterOptions options_;
  ExportTotals totals_;
  std::deque<Tracked> tracked_;  // the last kTracked datagrams; front has id first_tracked_
  std::uint64_t first_tracked_ = 0;
  std::chrono::steady_clock::time_point next_send_{};
};

}  // namespace netflowd
