#include "transport/udp_exporter.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.hpp"

namespace netflowd {
namespace {

// How long a replay waits for send-buffer space before counting the datagram as not sent.
constexpr int kFullWaitMs = 1000;
constexpr int kFullRetries = 10;
// Pacing allows short bursts so that the sender need not sleep before every datagram.
constexpr int kPaceBurst = 16;

}  // namespace

UdpExporter::UdpExporter(std::vector<Destination> destinations, UdpExporterOptions options) : options_(options) {
  sockets_.reserve(destinations.size());
  for (auto& d : destinations) {
    sockets_.push_back(Socket{std::move(d), UniqueFd{}, SocketStats{}});
    open(sockets_.back());
  }
}

void UdpExporter::open(Socket& s) {
  const Destination& d = s.destination;
  const int family = d.address.family == IpFamily::v6 ? AF_INET6 : AF_INET;
  UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw SetupError("destination " + d.to_string() + ": socket: " + std::strerror(errno));
  if (options_.sndbuf > 0) {
    // SO_SNDBUFFORCE lets root pass net.core.wmem_max; fall back to the capped option.
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &options_.sndbuf, sizeof options_.sndbuf) != 0) {
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &options_.sndbuf, sizeof options_.sndbuf);
    }
  }
  socklen_t len = sizeof s.stats.sndbuf;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &s.stats.sndbuf, &len);
  if (!d.interface.empty()) {
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, d.interface.c_str(),
                     static_cast<socklen_t>(d.interface.size())) != 0) {
      throw SetupError("destination " + d.to_string() + ": cannot bind to interface '" + d.interface +
                       "': " + std::strerror(errno));
    }
  }
  if (d.bind_address) {
    Destination local = d;
    local.address = *d.bind_address;
    local.port = 0;
    sockaddr_storage sa{};
    const socklen_t sa_len = local.to_sockaddr(sa);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sa_len) != 0) {
      throw SetupError("destination " + d.to_string() + ": cannot bind to " + d.bind_address->to_string() + ": " +
                       std::strerror(errno));
    }
  }
  s.fd = std::move(fd);
  s.stats.connected = false;
  try_connect(s);
}

bool UdpExporter::try_connect(Socket& s) {
  sockaddr_storage sa{};
  const socklen_t sa_len = s.destination.to_sockaddr(sa);
  if (::connect(s.fd.get(), reinterpret_cast<sockaddr*>(&sa), sa_len) != 0) {
    ++s.stats.err_connect;
    return false;
  }
  s.stats.connected = true;
  return true;
}

void UdpExporter::pace() {
  if (options_.rate == 0) return;
  using clock = std::chrono::steady_clock;
  const auto interval = std::chrono::nanoseconds(1'000'000'000 / options_.rate);
  const auto now = clock::now();
  // Credit for at most a short burst of idle time.
  if (next_send_ < now - interval * kPaceBurst) next_send_ = now - interval * kPaceBurst;
  if (next_send_ > now) std::this_thread::sleep_until(next_send_);
  next_send_ += interval;
}

bool UdpExporter::send_one(Socket& s, std::span<const std::uint8_t> datagram) {
  if (!s.stats.connected && !try_connect(s)) return false;
  for (int attempt = 0;; ++attempt) {
    const ssize_t n = ::send(s.fd.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(datagram.size())) {
      ++s.stats.sent_datagrams;
      s.stats.sent_bytes += datagram.size();
      return true;
    }
    const int err = n < 0 ? errno : EMSGSIZE;
    if (err == EINTR) continue;
    if (err == ECONNREFUSED) {
      // The collector answered an earlier datagram with port unreachable; the kernel reports
      // it here and does not send this one. The next datagram tries again.
      ++s.stats.err_cberr;
      return false;
    }
    if ((err == EAGAIN || err == ENOBUFS) && options_.wait_when_full && attempt < kFullRetries) {
      pollfd p{s.fd.get(), POLLOUT, 0};
      ::poll(&p, 1, kFullWaitMs);
      continue;
    }
    if (err == EAGAIN || err == ENOBUFS) {
      ++s.stats.err_sndbuf;
    } else if (err == EINVAL || err == ENOTCONN || err == EDESTADDRREQ) {
      ++s.stats.err_other;
      s.stats.connected = false;  // reconnect on the next datagram
    } else {
      ++s.stats.err_other;
    }
    return false;
  }
}

void UdpExporter::send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) {
  pace();
  ++totals_.datagrams;
  bool delivered = false;
  for (Socket& s : sockets_) delivered |= send_one(s, datagram);
  if (delivered) {
    ++totals_.delivered;
    totals_.delivered_bytes += datagram.size();
    totals_.flow_records += contents.flow_records;
  } else {
    if (totals_.lost_datagrams == 0) totals_.first_lost = contents.time;
    totals_.last_lost = contents.time;
    ++totals_.lost_datagrams;
    totals_.lost_flows += contents.flow_records;
    totals_.lost_packets += contents.packets;
    totals_.lost_bytes += contents.bytes;
  }
}

std::uint16_t UdpExporter::local_port(std::size_t i) const {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(sockets_[i].fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) return 0;
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
}

std::uint64_t UdpExporter::errors() const {
  std::uint64_t n = 0;
  for (const Socket& s : sockets_) n += s.stats.err_sndbuf + s.stats.err_cberr + s.stats.err_other;
  return n;
}

}  // namespace netflowd
