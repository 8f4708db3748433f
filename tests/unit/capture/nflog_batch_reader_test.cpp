// NflogBatchReader on batches built here, as the kernel lays them out (nfnetlink_log packet
// messages and their attributes): no socket, no root. NflogSource against the kernel is
// nflog_source_test.cpp.
#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <time.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "capture/nflog/nflog_source.hpp"
#include "common/time.hpp"

namespace netflowd {
namespace {

// One nfnetlink_log message under construction: attributes appended, the length set by bytes().
class Message {
 public:
  explicit Message(std::uint16_t type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    append(&h, sizeof h);
    nfgenmsg g{};
    g.nfgen_family = AF_INET;
    g.res_id = htons(7);
    append(&g, sizeof g);
    align();
  }
  Message& attr(std::uint16_t type, const void* data, std::size_t length) {
    nlattr a{};
    a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + length);
    a.nla_type = type;
    append(&a, sizeof a);
    append(data, length);
    align();
    return *this;
  }
  Message& u32(std::uint16_t type, std::uint32_t v) {
    v = htonl(v);
    return attr(type, &v, 4);
  }
  Message& timestamp(std::uint64_t sec, std::uint64_t usec) {
    nfulnl_msg_packet_timestamp ts{htobe64(sec), htobe64(usec)};
    return attr(NFULA_TIMESTAMP, &ts, sizeof ts);
  }
  Message& payload(std::size_t length) {
    const std::vector<std::uint8_t> ip(length, 0x45);
    return attr(NFULA_PAYLOAD, ip.data(), ip.size());
  }
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> b = bytes_;
    const auto length = static_cast<std::uint32_t>(b.size());
    std::memcpy(b.data(), &length, 4);  // nlmsg_len, host order
    return b;
  }

 private:
  void append(const void* p, std::size_t n) {
    const auto* c = static_cast<const std::uint8_t*>(p);
    bytes_.insert(bytes_.end(), c, c + n);
  }
  void align() { bytes_.resize(NLMSG_ALIGN(bytes_.size()), 0); }
  std::vector<std::uint8_t> bytes_;
};

// A batch: the messages one after the other, in a 4-byte aligned buffer as recv() fills.
struct Batch {
  std::vector<std::uint32_t> words;
  std::size_t length = 0;
  explicit Batch(const std::vector<std::vector<std::uint8_t>>& messages) {
    std::vector<std::uint8_t> all;
    for (const auto& m : messages) all.insert(all.end(), m.begin(), m.end());
    length = all.size();
    words.resize((length + 3) / 4);
    std::memcpy(words.data(), all.data(), length);
  }
  const std::uint8_t* data() const { return reinterpret_cast<const std::uint8_t*>(words.data()); }
};

TimeUs now_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<TimeUs>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
}

TEST(NflogBatchReader, PacketsTheirFactsAndSequenceGaps) {
  const std::uint8_t hw[14] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00};
  const std::uint16_t ether = htons(1);  // ARPHRD_ETHER
  nfulnl_msg_packet_hdr forward{htons(0x0800), NF_INET_FORWARD, 0};
  Message first;
  first.attr(NFULA_PACKET_HDR, &forward, sizeof forward)
      .timestamp(1'700'000'000, 250'000)
      .u32(NFULA_IFINDEX_INDEV, 2)
      .u32(NFULA_IFINDEX_OUTDEV, 3)
      .attr(NFULA_HWTYPE, &ether, 2)
      .attr(NFULA_HWHEADER, hw, sizeof hw)
      .u32(NFULA_SEQ, 10)
      .payload(40);
  Message second;  // 3 packets after the first: 2 lost
  second.timestamp(1'700'000'001, 0).u32(NFULA_SEQ, 13).payload(28);
  Message config((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG);  // not a packet: skipped
  Message no_payload;
  no_payload.u32(NFULA_SEQ, 14);
  const Batch batch({first.bytes(), config.bytes(), second.bytes(), no_payload.bytes()});

  NflogBatchReader reader;
  CaptureStats stats;
  reader.start(batch.data(), batch.length);
  CapturedFrame f;
  ASSERT_TRUE(reader.next(f, stats));
  EXPECT_EQ(f.bytes.size(), 40u);
  EXPECT_EQ(f.wire_length, UINT32_MAX) << "NFLOG does not say how long the packet was";
  EXPECT_EQ(f.meta.timestamp, seconds_to_us(1'700'000'000) + 250'000);
  EXPECT_EQ(f.meta.in_ifindex, 2u);
  EXPECT_EQ(f.meta.out_ifindex, 3u);
  EXPECT_EQ(f.meta.direction, FlowDirection::forward);
  ASSERT_TRUE(f.meta.has_mac);
  EXPECT_EQ(f.meta.src_mac[5], 1);
  EXPECT_EQ(f.meta.dst_mac[5], 2);
  ASSERT_TRUE(reader.next(f, stats));
  EXPECT_EQ(f.bytes.size(), 28u);
  EXPECT_FALSE(f.meta.has_mac);
  EXPECT_EQ(f.meta.in_ifindex, kNoInterface);
  EXPECT_FALSE(reader.next(f, stats));
  EXPECT_EQ(stats.frames, 2u);
  EXPECT_EQ(stats.source_drops, 2u);
  // The next batch goes on counting from the last packet's sequence number, 13: the message
  // without a payload (14) could not be metered, and counts with the packets lost.
  Message third;
  third.u32(NFULA_SEQ, 15).payload(20);
  const Batch next({third.bytes()});
  reader.start(next.data(), next.length);
  ASSERT_TRUE(reader.next(f, stats));
  EXPECT_EQ(stats.source_drops, 3u);
  EXPECT_EQ(stats.frames, 3u);
}

// A message whose length does not fit what is left of the batch ends it: only whole messages
// come out of a batch that was cut short.
TEST(NflogBatchReader, CutShortBatchGivesWholeMessagesOnly) {
  Message m;
  m.u32(NFULA_SEQ, 1).payload(60);
  const std::vector<std::uint8_t> whole = m.bytes();
  std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() - 8));
  const Batch batch({whole, cut});
  NflogBatchReader reader;
  CaptureStats stats;
  reader.start(batch.data(), batch.length);
  CapturedFrame f;
  ASSERT_TRUE(reader.next(f, stats));
  EXPECT_FALSE(reader.next(f, stats));
  EXPECT_EQ(stats.frames, 1u);
}

// A timestamp that is not a time (past the year 9999, or a second or more of microseconds) is
// taken as none: the packet is timed by the local clock. The year 380,000 overflowed the
// microsecond clock (found by the nflog fuzz target).
TEST(NflogBatchReader, TimestampThatIsNotATimeIsTheLocalClock) {
  for (const auto& [sec, usec] : {std::pair<std::uint64_t, std::uint64_t>{13'792'275'558'822'144u, 0},
                                  {UINT64_MAX, UINT64_MAX},
                                  {static_cast<std::uint64_t>(kLastSecond) + 1, 0},
                                  {1'700'000'000, 1'000'000}}) {
    Message m;
    m.timestamp(sec, usec).payload(20);
    const Batch batch({m.bytes()});
    NflogBatchReader reader;
    CaptureStats stats;
    reader.start(batch.data(), batch.length);
    CapturedFrame f;
    const TimeUs before = now_us();
    ASSERT_TRUE(reader.next(f, stats));
    EXPECT_GE(f.meta.timestamp, before) << sec << " s " << usec << " us";
    EXPECT_LE(f.meta.timestamp, now_us());
  }
  Message last;
  last.timestamp(static_cast<std::uint64_t>(kLastSecond), 999'999).payload(20);
  const Batch batch({last.bytes()});
  NflogBatchReader reader;
  CaptureStats stats;
  reader.start(batch.data(), batch.length);
  CapturedFrame f;
  ASSERT_TRUE(reader.next(f, stats));
  EXPECT_EQ(f.meta.timestamp, seconds_to_us(kLastSecond) + 999'999);
}

}  // namespace
}  // namespace netflowd
