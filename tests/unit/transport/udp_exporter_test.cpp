// Real sockets on the loopback interface: what the exporter sends is received.
#include "transport/udp_exporter.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"

namespace netflowd {
namespace {

// A UDP socket bound to an ephemeral port on 127.0.0.1 (or ::1).
struct Receiver {
  UniqueFd fd;
  std::uint16_t port = 0;
  explicit Receiver(bool v6 = false) : fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    // Room for a round of check_runs() as root (SO_RCVBUFFORCE); the capped size otherwise.
    const int bytes = 4 << 20;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
      auto& sa = reinterpret_cast<sockaddr_in6&>(ss);
      sa.sin6_family = AF_INET6;
      sa.sin6_addr = in6addr_loopback;
      len = sizeof sa;
    } else {
      auto& sa = reinterpret_cast<sockaddr_in&>(ss);
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof sa;
    }
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port : reinterpret_cast<sockaddr_in&>(ss).sin_port);
  }
  std::vector<std::uint8_t> receive(int timeout_ms = 2000) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return {};
    std::array<std::uint8_t, 4096> buf{};
    const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    return n > 0 ? std::vector<std::uint8_t>(buf.begin(), buf.begin() + n) : std::vector<std::uint8_t>{};
  }
};

Destination loopback(std::uint16_t port) { return parse_destinations("127.0.0.1:" + std::to_string(port)).front(); }

TEST(UdpExporter, MirrorsEveryDatagramToEveryDestination) {
  Receiver a, b;
  UdpExporter exporter({loopback(a.port), loopback(b.port)}, UdpExporterOptions{});
  const std::vector<std::uint8_t> payload{1, 2, 3, 4, 5};
  exporter.send(payload, DatagramContents{2, 10, 1000});
  exporter.flush();
  EXPECT_EQ(a.receive(), payload);
  EXPECT_EQ(b.receive(), payload);
  EXPECT_EQ(exporter.socket_stats(0).sent_datagrams, 1u);
  EXPECT_EQ(exporter.totals().flow_records, 2u);
  EXPECT_EQ(exporter.totals().lost_datagrams, 0u);
}

TEST(UdpExporter, DeadCollectorIsCountedAndRetried) {
  std::uint16_t port = 0;
  {
    Receiver gone;  // take a free port, then close it: nothing listens there any more
    port = gone.port;
  }
  UdpExporter exporter({loopback(port)}, UdpExporterOptions{});
  for (std::uint8_t i = 0; i < 5; ++i) {
    // A NetFlow v5 header with flow_sequence i: the ICMP error quotes it.
    std::vector<std::uint8_t> datagram(24, 0);
    datagram[1] = 5;
    datagram[19] = i;
    exporter.send(datagram, DatagramContents{1, 1, 100});
    exporter.flush();
    ::poll(nullptr, 0, 20);  // let the ICMP port-unreachable come back
  }
  exporter.poll_errors();
  EXPECT_EQ(exporter.socket_stats(0).err_cberr, 5u) << "every port unreachable is read from the error queue";
  EXPECT_EQ(exporter.socket_stats(0).sent_datagrams, 5u) << "a pending error does not make the next send fail";
  EXPECT_EQ(exporter.totals().lost_datagrams, 5u) << "each error is matched to the datagram it quotes";
  EXPECT_EQ(exporter.totals().lost_flows, 5u);
  EXPECT_EQ(exporter.totals().delivered, 0u);
}

TEST(UdpExporter, PacingSpreadsDatagrams) {
  Receiver r;
  UdpExporterOptions options;
  options.rate = 1'000'000;  // effectively unpaced; checks pacing code runs without loss
  UdpExporter exporter({loopback(r.port)}, options);
  const std::vector<std::uint8_t> payload(100, 7);
  for (int i = 0; i < 50; ++i) exporter.send(payload, DatagramContents{1, 1, 1});
  int got = 0;
  while (!r.receive().empty() && got < 50) ++got;
  EXPECT_EQ(got, 50);
}

// A NetFlow v9 header with sequence number `seq`, then `size` bytes in all of a pattern that
// differs from datagram to datagram.
std::vector<std::uint8_t> numbered(std::uint32_t seq, std::size_t size) {
  std::vector<std::uint8_t> d(size);
  for (std::size_t i = 0; i < size; ++i) d[i] = static_cast<std::uint8_t>(seq * 31 + i);
  d[0] = 0;
  d[1] = 9;
  for (int b = 0; b < 4; ++b) d[12 + b] = static_cast<std::uint8_t>(seq >> (24 - 8 * b));
  return d;
}

// Sends rounds of datagrams whose sizes change (runs of one size, a shorter one ending a run,
// a longer one starting the next, runs longer than one system call takes); each round is
// flushed and must arrive as the very same datagrams, in order.
void check_runs(UdpExporter& exporter, Receiver& r) {
  const std::vector<std::size_t> sizes = {1420, 1420, 1420, 300, 1420, 1420, 2000, 2000, 100, 100, 100, 1420};
  std::uint32_t seq = 0;
  std::uint64_t records = 0;
  for (int round = 0; round < 4; ++round) {
    std::vector<std::vector<std::uint8_t>> sent;
    for (std::size_t size : sizes) {
      const int repeat = size == 1420 && round % 2 == 1 ? 20 : 1;  // odd rounds: a run of 60, more than one call takes
      for (int k = 0; k < repeat; ++k) sent.push_back(numbered(seq++, size));
    }
    std::vector<std::vector<std::uint8_t>> got;
    {
      std::jthread reader([&] {
        for (std::size_t i = 0; i < sent.size(); ++i) {
          got.push_back(r.receive());
          if (got.back().empty()) return;
        }
      });
      for (const auto& d : sent) {
        exporter.send(d, DatagramContents{3, 5, 7});
        records += 3;
      }
      exporter.flush();
    }
    ASSERT_EQ(got.size(), sent.size()) << "round " << round;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      ASSERT_EQ(got[i], sent[i]) << "round " << round << ", datagram " << i << " of " << sent.size();
    }
    EXPECT_TRUE(r.receive(50).empty()) << "nothing more than was sent";
  }
  EXPECT_EQ(exporter.socket_stats(0).sent_datagrams, seq);
  EXPECT_EQ(exporter.totals().datagrams, seq);
  EXPECT_EQ(exporter.totals().delivered, seq);
  EXPECT_EQ(exporter.totals().flow_records, records);
  EXPECT_EQ(exporter.totals().lost_datagrams, 0u);
}

TEST(UdpExporter, RunsOfDatagramsGoInFewSystemCallsAndArriveUnchanged) {
  Receiver r;
  UdpExporter exporter({loopback(r.port)}, UdpExporterOptions{});
  ASSERT_TRUE(exporter.socket_stats(0).segmentation) << "this kernel has UDP_SEGMENT (Linux 4.18 and later)";
  check_runs(exporter, r);
  const SocketStats& s = exporter.socket_stats(0);
  EXPECT_GT(s.batched_sends, 0u);
  EXPECT_LT(s.batched_sends, s.sent_datagrams / 4) << "runs of 25 and more datagrams went in a few system calls";
}

TEST(UdpExporter, RunsToAnIpv6CollectorArriveUnchanged) {
  Receiver r(true);
  UdpExporter exporter({parse_destinations("[::1]:" + std::to_string(r.port)).front()}, UdpExporterOptions{});
  ASSERT_TRUE(exporter.socket_stats(0).segmentation);
  check_runs(exporter, r);
  EXPECT_GT(exporter.socket_stats(0).batched_sends, 0u);
}

TEST(UdpExporter, EachDatagramOfARunToADeadCollectorIsCountedLost) {
  std::uint16_t port = 0;
  {
    Receiver gone;
    port = gone.port;
  }
  UdpExporter exporter({loopback(port)}, UdpExporterOptions{});
  for (std::uint32_t i = 0; i < 5; ++i) exporter.send(numbered(i, 600), DatagramContents{2, 1, 100});
  exporter.flush();
  EXPECT_EQ(exporter.socket_stats(0).batched_sends, 1u);
  ::poll(nullptr, 0, 50);  // let the ICMP port-unreachable come back
  exporter.poll_errors();
  // Over loopback the run reaches the closed port whole: one error, quoting the first datagram.
  EXPECT_GE(exporter.socket_stats(0).err_cberr, 1u);
  EXPECT_EQ(exporter.totals().lost_datagrams, 5u) << "the error stands for every datagram of its run";
  EXPECT_EQ(exporter.totals().lost_flows, 10u);
  EXPECT_EQ(exporter.totals().delivered, 0u);
}

TEST(UdpExporter, SegmentationRefusedFallsBackToOneDatagramPerCall) {
  Receiver r;
  UdpExporter exporter({loopback(r.port)}, UdpExporterOptions{});
  // Without UDP checksums the kernel refuses to segment (EINVAL or EIO, by kernel version).
  const int on = 1;
  ASSERT_EQ(::setsockopt(exporter.native_handle(0), SOL_SOCKET, SO_NO_CHECK, &on, sizeof on), 0);
  check_runs(exporter, r);
  EXPECT_FALSE(exporter.socket_stats(0).segmentation);
  EXPECT_EQ(exporter.socket_stats(0).batched_sends, 0u);
  EXPECT_EQ(exporter.socket_stats(0).err_other, 0u) << "the refused run was sent again, one by one";
}

TEST(UdpExporter, PacedOrWithoutSegmentationSendsEachDatagramAtOnce) {
  for (const bool paced : {true, false}) {
    Receiver r;
    UdpExporterOptions options;
    options.rate = paced ? 1'000'000 : 0;
    options.segmentation = paced;  // paced: on, but pacing wins; unpaced: off
    UdpExporter exporter({loopback(r.port)}, options);
    EXPECT_FALSE(exporter.socket_stats(0).segmentation);
    const std::vector<std::uint8_t> d = numbered(1, 1400);
    exporter.send(d, DatagramContents{1, 1, 1});
    EXPECT_EQ(r.receive(), d) << "sent without flush()";
    EXPECT_EQ(exporter.totals().delivered, 1u);
  }
}

}  // namespace
}  // namespace netflowd
