#include "transport/udp_exporter.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <linux/errqueue.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"

namespace netflowd {
namespace {

// How long a replay waits for send-buffer space before counting the datagram as not sent.
constexpr int kFullWaitMs = 1000;
constexpr int kFullRetries = 10;
// Pacing allows short bursts so that the sender need not sleep before every datagram.
constexpr int kPaceBurst = 16;
// How many recent datagrams an ICMP error can still be matched to.
constexpr std::size_t kTracked = 4096;

// The NetFlow version and sequence number of a datagram (or of the quoted start of one in an
// ICMP error): unique per datagram for v5 and v9, and for IPFIX messages with data records.
bool sequence_key(const std::uint8_t* p, std::size_t n, std::uint64_t& key) {
  if (n < 2) return false;
  const unsigned version = (p[0] << 8) | p[1];
  const std::size_t off = version == 5 ? 16 : version == 9 ? 12 : version == 10 ? 8 : 0;
  if (off == 0 || n < off + 4) return false;
  const std::uint32_t seq =
      (std::uint32_t{p[off]} << 24) | (std::uint32_t{p[off + 1]} << 16) | (std::uint32_t{p[off + 2]} << 8) | p[off + 3];
  key = (std::uint64_t{version} << 32) | seq;
  return true;
}

}  // namespace

UdpExporter::UdpExporter(std::vector<Destination> destinations, UdpExporterOptions options) : options_(options) {
  sockets_.reserve(destinations.size());
  for (auto& d : destinations) {
    sockets_.push_back(Socket{std::move(d), UniqueFd{}, SocketStats{}, {}});
    open(sockets_.back());
  }
  // Runs of datagrams only unpaced (pacing spaces every datagram), and small enough that the
  // send buffer takes one whole.
  const bool kernel =
      std::any_of(sockets_.begin(), sockets_.end(), [](const Socket& s) { return s.stats.segmentation; });
  if (options_.segmentation && options_.rate == 0 && kernel) {
    run_limit_ = kMaxRunBytes;
    for (const Socket& s : sockets_) run_limit_ = std::min(run_limit_, static_cast<std::size_t>(s.stats.sndbuf) / 2);
    run_.reserve(run_limit_);
  }
  for (Socket& s : sockets_) s.stats.segmentation = s.stats.segmentation && run_limit_ != 0;
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
  // Whether this kernel has UDP segmentation offload (Linux 4.18 and later). An older one
  // would not refuse the control message but send the run as one oversized datagram.
  int segment = 0;
  socklen_t segment_len = sizeof segment;
  s.stats.segmentation = ::getsockopt(fd.get(), SOL_UDP, UDP_SEGMENT, &segment, &segment_len) == 0;
  // ICMP errors go to the error queue, where drain_errors() counts each one.
  const int on = 1;
  if (family == AF_INET6) {
    ::setsockopt(fd.get(), SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
  } else {
    ::setsockopt(fd.get(), SOL_IP, IP_RECVERR, &on, sizeof on);
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

// ICMP errors (port or host unreachable) the collector's side sent back are queued on the
// socket's error queue (IP_RECVERR); reading them counts each one and clears the pending
// socket error, so it does not make the next datagram fail as well.
void UdpExporter::drain_errors(Socket& s) {
  std::uint8_t data[64];
  char control[512];
  for (;;) {
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(s.fd.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return;
    bool icmp = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        sock_extended_err err{};
        std::memcpy(&err, CMSG_DATA(c), sizeof err);
        icmp = icmp || err.ee_origin == SO_EE_ORIGIN_ICMP || err.ee_origin == SO_EE_ORIGIN_ICMP6;
      }
    }
    if (!icmp) continue;
    ++s.stats.err_cberr;
    // The error quotes the start of the datagram it is about: find it by its sequence number.
    std::uint64_t key = 0;
    if (!sequence_key(data, static_cast<std::size_t>(n), key)) continue;
    const auto it = std::find_if(s.sent.rbegin(), s.sent.rend(), [key](const auto& d) { return d.key == key; });
    if (it == s.sent.rend()) continue;
    // A run sent in one system call meets a closed port as one packet where it is not cut up
    // before it reaches the collector's host (loopback, veth): one error then stands for every
    // datagram of the run. Where each datagram draws its own error, the others no longer match.
    const std::uint64_t run = it->run;
    for (auto d = s.sent.begin(); d != s.sent.end();) {
      if (d->run != run) {
        ++d;
        continue;
      }
      failed(d->id);
      d = s.sent.erase(d);
    }
  }
}

void UdpExporter::poll_errors() {
  for (Socket& s : sockets_) drain_errors(s);
}

void UdpExporter::failed(std::uint64_t id) {
  if (id < first_tracked_ || id - first_tracked_ >= tracked_.size()) return;
  Tracked& t = tracked_[id - first_tracked_];
  if (t.lost || ++t.failures < sockets_.size()) return;
  // No destination has it: it is lost, with its flows (and no longer counted as delivered).
  t.lost = true;
  if (t.delivered_counted) {
    --totals_.delivered;
    totals_.delivered_bytes -= t.bytes;
    totals_.flow_records -= t.contents.flow_records;
  }
  if (totals_.lost_datagrams == 0) totals_.first_lost = t.contents.time;
  totals_.last_lost = t.contents.time;
  ++totals_.lost_datagrams;
  totals_.lost_flows += t.contents.flow_records;
  totals_.lost_packets += t.contents.packets;
  totals_.lost_bytes += t.contents.bytes;
}

UdpExporter::Sent UdpExporter::send_on(Socket& s, std::span<const std::uint8_t> bytes, std::uint16_t segment,
                                       std::size_t count) {
  if (!s.stats.connected && !try_connect(s)) return Sent::no;
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint16_t))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (segment != 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof segment);
    std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
  }
  // The error queue is read only when the kernel says it has something: an ICMP error on a
  // connected socket is queued (IP_RECVERR) and also makes the next send() fail once with
  // ECONNREFUSED and so on. Then the queue is drained (the datagram the error quotes is
  // counted lost) and this one is sent again. No recvmsg() per datagram otherwise; errors
  // that come after the last datagram are read by poll_errors() on the export tick.
  bool drained = false;
  for (int attempt = 0;; ++attempt) {
    const ssize_t n = ::sendmsg(s.fd.get(), &msg, MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(bytes.size())) {
      s.stats.sent_datagrams += count;
      s.stats.sent_bytes += bytes.size();
      if (segment != 0) ++s.stats.batched_sends;
      return Sent::yes;
    }
    const int err = n < 0 ? errno : EMSGSIZE;
    if (err == EINTR) continue;
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH) {
      if (!drained) {
        drain_errors(s);
        drained = true;
        continue;
      }
      // A second error at once (another ICMP error arrived meanwhile): these datagrams are
      // not sent; the error is read at the next one.
      s.stats.err_refused += count;
      return Sent::no;
    }
    if ((err == EAGAIN || err == ENOBUFS) && options_.wait_when_full && attempt < kFullRetries) {
      pollfd p{s.fd.get(), POLLOUT, 0};
      ::poll(&p, 1, kFullWaitMs);
      continue;
    }
    // The kernel refuses to cut this run into datagrams: no UDP checksum offload on the
    // route's device, IPsec, datagrams larger than the path MTU. Nothing was sent.
    if (segment != 0 && (err == EIO || err == EINVAL || err == EOPNOTSUPP || err == EMSGSIZE)) {
      s.stats.segmentation = false;
      log_message(LOG_WARNING,
                  "destination %s: the kernel refuses UDP segmentation (%s); one datagram per system "
                  "call from now on",
                  s.destination.to_string().c_str(), std::strerror(err));
      return Sent::refused_segmentation;
    }
    if (err == EAGAIN || err == ENOBUFS) {
      s.stats.err_sndbuf += count;
    } else if (err == EINVAL || err == ENOTCONN || err == EDESTADDRREQ) {
      s.stats.err_other += count;
      s.stats.connected = false;  // reconnect on the next datagram
    } else {
      s.stats.err_other += count;
    }
    return Sent::no;
  }
}

void UdpExporter::send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) {
  pace();
  // A run that is full or ended by a shorter datagram has gone already (below): only a longer
  // datagram ends the run it would join.
  if (run_count_ != 0 && datagram.size() > run_segment_) flush();
  ++totals_.datagrams;
  const std::uint64_t id = first_tracked_ + tracked_.size();
  tracked_.push_back(Tracked{contents, datagram.size(), 0, false, false});
  if (tracked_.size() > kTracked) {
    tracked_.pop_front();
    ++first_tracked_;
  }
  if (run_count_ == 0) {
    run_first_id_ = id;
    run_segment_ = datagram.size();
  }
  auto& [keyed, key] = run_keys_[run_count_++];
  keyed = sequence_key(datagram.data(), datagram.size(), key);
  if (run_limit_ == 0) {  // sent as it comes
    send_run(datagram);
    run_count_ = 0;
    return;
  }
  run_.insert(run_.end(), datagram.begin(), datagram.end());
  // A shorter datagram can only end a run; a full run goes at once.
  if (datagram.size() < run_segment_ || run_count_ == kMaxRun || run_.size() + run_segment_ > run_limit_) flush();
}

void UdpExporter::flush() {
  if (run_count_ == 0) return;
  send_run(run_);
  run_.clear();
  run_count_ = 0;
}

void UdpExporter::send_run(std::span<const std::uint8_t> run) {
  std::array<std::uint32_t, kMaxRun> failures{};
  for (Socket& s : sockets_) {
    // Several datagrams in one system call where the socket can; one by one otherwise.
    std::uint64_t failed_mask = 0;  // bit i: datagram i did not go
    Sent batch = Sent::refused_segmentation;
    if (run_count_ > 1 && s.stats.segmentation) {
      batch = send_on(s, run, static_cast<std::uint16_t>(run_segment_), run_count_);
      if (batch == Sent::no) failed_mask = ~std::uint64_t{0};
    }
    if (batch == Sent::refused_segmentation) {
      for (std::size_t i = 0; i < run_count_; ++i) {
        const std::size_t offset = i * run_segment_;
        if (send_on(s, run.subspan(offset, std::min(run_segment_, run.size() - offset)), 0, 1) != Sent::yes) {
          failed_mask |= std::uint64_t{1} << i;
        }
      }
    }
    for (std::size_t i = 0; i < run_count_; ++i) {
      const std::uint64_t id = run_first_id_ + i;
      if ((failed_mask >> i) & 1) {
        ++failures[i];
      } else if (run_keys_[i].first) {
        s.sent.push_back({run_keys_[i].second, id, batch == Sent::yes ? run_first_id_ : id});
        if (s.sent.size() > kTracked) s.sent.pop_front();
      }
    }
  }
  for (std::size_t i = 0; i < run_count_; ++i) {
    const std::size_t offset = i * run_segment_;
    account(run_first_id_ + i, std::min(run_segment_, run.size() - offset), failures[i]);
  }
}

// Counts datagram `id` delivered (some destination took it) or lost (`failures` is all of them).
void UdpExporter::account(std::uint64_t id, std::size_t bytes, std::uint32_t failures) {
  if (id < first_tracked_ || id - first_tracked_ >= tracked_.size()) return;
  Tracked& t = tracked_[id - first_tracked_];
  if (failures < sockets_.size()) {
    t.delivered_counted = true;
    ++totals_.delivered;
    totals_.delivered_bytes += bytes;
    totals_.flow_records += t.contents.flow_records;
  }
  for (std::uint32_t i = 0; i < failures; ++i) failed(id);
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
  for (const Socket& s : sockets_)
    n += s.stats.err_sndbuf + s.stats.err_cberr + s.stats.err_refused + s.stats.err_other;
  return n;
}

}  // namespace netflowd
