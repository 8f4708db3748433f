// NflogSource against the kernel, in a network namespace of its own: an iptables NFLOG rule
// logs UDP datagrams sent to loopback, and the source reads them.
//
// Cut-short batches: a recv() buffer much smaller than the kernel's batches (4 KiB against
// 64 KiB or more) makes every busy batch arrive cut short, as a batch larger than the real
// buffer would. Every one must be counted as an overrun, only whole messages may come out of
// it, and the packets it lost must show as a sequence gap: frames + source_drops = the
// packets the rule logged, exactly.
//
// Needs root (a network namespace, iptables, an NFLOG group); skipped otherwise. CI runs as
// root.
#include "capture/nflog/nflog_source.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace netflowd {
namespace {

constexpr std::uint16_t kGroup = 7;
constexpr std::uint16_t kPort = 5599;
constexpr std::size_t kPayload = 100;

// Moves this thread into a new network namespace, and back when it goes.
class OwnNetns {
 public:
  OwnNetns() {
    saved_ = UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    ok_ = static_cast<bool>(saved_) && ::unshare(CLONE_NEWNET) == 0;
  }
  ~OwnNetns() {
    if (ok_) ::setns(saved_.get(), CLONE_NEWNET);
  }
  OwnNetns(const OwnNetns&) = delete;
  OwnNetns& operator=(const OwnNetns&) = delete;
  bool ok() const { return ok_; }

 private:
  UniqueFd saved_;
  bool ok_ = false;
};

// Runs a shell command in this thread's network namespace (children inherit it).
int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

class Sender {
 public:
  Sender() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    to_.sin_family = AF_INET;
    to_.sin_port = htons(kPort);
    to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int big = 1 << 22;
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  }
  // A datagram whose payload is `number`, then its bytes in a pattern of it.
  bool send(std::uint32_t number) {
    std::uint8_t payload[kPayload];
    std::memcpy(payload, &number, sizeof number);
    for (std::size_t i = sizeof number; i < kPayload; ++i) payload[i] = static_cast<std::uint8_t>(number + i);
    return ::sendto(fd_.get(), payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to_), sizeof to_) ==
           static_cast<ssize_t>(sizeof payload);
  }

 private:
  UniqueFd fd_;
  sockaddr_in to_{};
};

// The number a logged datagram carries, or -1 when the frame is not one of them intact.
std::int64_t number_of(const CapturedFrame& frame) {
  const auto& b = frame.bytes;
  if (b.size() < 20 + 8 + kPayload || (b[0] >> 4) != 4 || b[9] != IPPROTO_UDP) return -1;
  const std::size_t l4 = (b[0] & 0x0f) * 4u;
  if (b.size() != l4 + 8 + kPayload || ((b[l4 + 2] << 8) | b[l4 + 3]) != kPort) return -1;
  const std::uint8_t* payload = b.data() + l4 + 8;
  std::uint32_t number;
  std::memcpy(&number, payload, sizeof number);
  for (std::size_t i = sizeof number; i < kPayload; ++i) {
    if (payload[i] != static_cast<std::uint8_t>(number + i)) return -1;
  }
  return number;
}

// Reads frames until none has come for `quiet`, or until the frame numbered `until` came.
// Returns false if a frame was not an intact logged datagram or numbers did not increase.
bool drain(NflogSource& source, std::chrono::milliseconds quiet, std::int64_t& last, std::int64_t until = -1) {
  CapturedFrame frame;
  pollfd p{source.poll_fd(), POLLIN, 0};
  for (;;) {
    NextResult rc;
    while ((rc = source.next(frame)) == NextResult::frame) {
      const std::int64_t n = number_of(frame);
      if (n < 0 || n <= last) {
        ADD_FAILURE() << "frame " << source.stats().frames << ": number " << n << " after " << last;
        return false;
      }
      last = n;
      if (n == until) return true;
    }
    if (rc != NextResult::idle) {
      ADD_FAILURE() << "source ended: " << source.error();
      return false;
    }
    if (::poll(&p, 1, static_cast<int>(quiet.count())) == 0) return until < 0;
  }
}

// A network namespace with loopback up, an NFLOG rule for UDP to kPort on it, and a socket
// bound there (so that no ICMP error answers the datagrams).
class NflogInNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: a network namespace, iptables and an NFLOG group";
    netns_ = std::make_unique<OwnNetns>();
    ASSERT_TRUE(netns_->ok()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    ASSERT_EQ(run("ip link set lo up"), 0);
    ASSERT_EQ(run("iptables -w -A OUTPUT -o lo -p udp --dport " + std::to_string(kPort) + " -j NFLOG --nflog-group " +
                  std::to_string(kGroup)),
              0)
        << "iptables with the NFLOG target is needed";
    sink_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(kPort);
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(sink_.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at), 0);
  }
  // Sources and sockets close before the namespace is left (members go in reverse order).
  std::unique_ptr<OwnNetns> netns_;
  UniqueFd sink_;
};

// A burst fills the kernel's batches (a few hundred of these messages each, 64 KiB or more).
constexpr std::uint32_t kBurst = 3000;

TEST_F(NflogInNetns, CutShortBatchesAreCountedAndLoseNothingUncounted) {
  constexpr std::size_t kSmallBatchBuffer = 4096;
  NflogSource source(kGroup, 4 << 20, kSmallBatchBuffer);
  Sender sender;
  for (std::uint32_t i = 0; i < kBurst; ++i) ASSERT_TRUE(sender.send(i));
  std::int64_t last = -1;
  ASSERT_TRUE(drain(source, std::chrono::milliseconds(300), last));
  const CaptureStats after_burst = source.stats();
  EXPECT_GE(after_burst.overruns, 1u) << "no batch was cut short: " << after_burst.frames << " frames";
  EXPECT_LT(after_burst.frames, kBurst) << "a 4 KiB buffer cannot have taken every message";
  EXPECT_GT(after_burst.frames, 0u);

  // One more datagram, alone in its batch: its sequence number tells how many were lost.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(sender.send(kBurst));
  ASSERT_TRUE(drain(source, std::chrono::milliseconds(2000), last, kBurst)) << "the last datagram never came";
  const CaptureStats& s = source.stats();
  EXPECT_EQ(s.frames + s.source_drops, kBurst + 1u)
      << "frames " << s.frames << " + sequence-gap drops " << s.source_drops << " must be every datagram logged";
  EXPECT_GT(s.source_drops, 0u);
}

// The same burst with the real batch buffer: nothing is cut short, nothing is lost.
TEST_F(NflogInNetns, FullBatchesArriveWhole) {
  NflogSource source(kGroup, 4 << 20);
  Sender sender;
  for (std::uint32_t i = 0; i < kBurst; ++i) ASSERT_TRUE(sender.send(i));
  std::int64_t last = -1;
  ASSERT_TRUE(drain(source, std::chrono::milliseconds(2000), last, kBurst - 1));
  EXPECT_EQ(source.stats().frames, kBurst);
  EXPECT_EQ(source.stats().overruns, 0u);
  EXPECT_EQ(source.stats().source_drops, 0u);
}

}  // namespace
}  // namespace netflowd
