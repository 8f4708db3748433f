// Real sockets on the loopback interface: what the exporter sends is received.
#include "transport/udp_exporter.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <vector>

#include "common/unique_fd.hpp"

namespace netflowd {
namespace {

// A UDP socket bound to an ephemeral loopback port.
struct Receiver {
  UniqueFd fd{::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)};
  std::uint16_t port = 0;
  Receiver() {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
  }
  std::vector<std::uint8_t> receive() {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) != 1) return {};
    std::array<std::uint8_t, 2048> buf{};
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

}  // namespace
}  // namespace netflowd
