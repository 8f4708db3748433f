// Conntrack event messages (ctnetlink, as the kernel sends them to the new/destroy groups)
// parsed into NAT events: translated IPv4 connections only, tuples and times exact, everything
// else counted. The messages are built here with libmnl, attribute by attribute; the lab test
// lab.natevents reads the kernel's own.
#include "capture/conntrack/nat_event_source.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cstring>
#include <optional>
#include <vector>

namespace netflowd {
namespace {

struct Tuple4 {
  const char* src;
  const char* dst;
  std::uint16_t sport;  // ICMP: id
  std::uint16_t dport;  // ICMP: type << 8 | code
};

struct Message {
  int type = IPCTNL_MSG_CT_NEW;
  std::uint8_t protocol = 17;
  Tuple4 orig{};
  Tuple4 reply{};
  std::optional<std::uint32_t> status = IPS_SRC_NAT | IPS_CONFIRMED;
  bool ipv6 = false;
  std::uint64_t start_ns = 0, stop_ns = 0;  // CTA_TIMESTAMP when either is set
};

void put_tuple(nlmsghdr* nlh, int which, const Message& m, const Tuple4& t) {
  nlattr* tuple = mnl_attr_nest_start(nlh, static_cast<std::uint16_t>(which));
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  if (m.ipv6) {
    in6_addr a{};
    inet_pton(AF_INET6, "fd00::1", &a);
    mnl_attr_put(nlh, CTA_IP_V6_SRC, sizeof a, &a);
    mnl_attr_put(nlh, CTA_IP_V6_DST, sizeof a, &a);
  } else {
    in_addr a{};
    inet_pton(AF_INET, t.src, &a);
    mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, a.s_addr);
    inet_pton(AF_INET, t.dst, &a);
    mnl_attr_put_u32(nlh, CTA_IP_V4_DST, a.s_addr);
  }
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, m.protocol);
  if (m.protocol == 1) {
    mnl_attr_put_u16(nlh, CTA_PROTO_ICMP_ID, htons(t.sport));
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_TYPE, static_cast<std::uint8_t>(t.dport >> 8));
    mnl_attr_put_u8(nlh, CTA_PROTO_ICMP_CODE, static_cast<std::uint8_t>(t.dport));
  } else {
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t.sport));
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t.dport));
  }
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
}

// Appends one ctnetlink message to `buf`.
void append(std::vector<std::uint8_t>& buf, const Message& m) {
  std::vector<std::uint8_t> one(4096);
  nlmsghdr* nlh = mnl_nlmsg_put_header(one.data());
  nlh->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | m.type);
  nlh->nlmsg_flags = m.type == IPCTNL_MSG_CT_NEW ? (NLM_F_CREATE | NLM_F_EXCL) : 0;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = m.ipv6 ? AF_INET6 : AF_INET;
  nfg->version = NFNETLINK_V0;
  put_tuple(nlh, CTA_TUPLE_ORIG, m, m.orig);
  put_tuple(nlh, CTA_TUPLE_REPLY, m, m.reply);
  if (m.status) mnl_attr_put_u32(nlh, CTA_STATUS, htonl(*m.status));
  if (m.start_ns != 0 || m.stop_ns != 0) {
    nlattr* ts = mnl_attr_nest_start(nlh, CTA_TIMESTAMP);
    mnl_attr_put_u64(nlh, CTA_TIMESTAMP_START, htobe64(m.start_ns));
    if (m.stop_ns != 0) mnl_attr_put_u64(nlh, CTA_TIMESTAMP_STOP, htobe64(m.stop_ns));
    mnl_attr_nest_end(nlh, ts);
  }
  buf.insert(buf.end(), one.begin(), one.begin() + nlh->nlmsg_len);
}

NatTuple tuple(const char* src, const char* dst, std::uint16_t sport, std::uint16_t dport) {
  NatTuple t;
  inet_pton(AF_INET, src, t.src.data());
  inet_pton(AF_INET, dst, t.dst.data());
  t.src_port = sport;
  t.dst_port = dport;
  return t;
}

constexpr TimeUs kNow = 1'800'000'000LL * kUsPerSecond;

// UDP from 10.0.0.2:40001 to 192.0.2.9:53, masqueraded to 198.51.100.1:61000.
Message masqueraded_udp() {
  Message m;
  m.orig = {"10.0.0.2", "192.0.2.9", 40001, 53};
  m.reply = {"192.0.2.9", "198.51.100.1", 53, 61000};
  return m;
}

// The events of the connection `m` describes: created, then destroyed.
std::vector<NatEvent> created_and_destroyed(Message m, NatEventCounters& c) {
  std::vector<std::uint8_t> buf;
  m.type = IPCTNL_MSG_CT_NEW;
  append(buf, m);
  m.type = IPCTNL_MSG_CT_DELETE;
  append(buf, m);
  std::vector<NatEvent> out;
  parse_conntrack_events(buf, kNow, out, c);
  return out;
}

TEST(ConntrackEvents, SourceNatCreateAndDestroy) {
  const Message m = masqueraded_udp();
  NatEventCounters c;
  const std::vector<NatEvent> out = created_and_destroyed(m, c);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(c.creates, 1u);
  EXPECT_EQ(c.destroys, 1u);
  for (const NatEvent& e : out) {
    EXPECT_EQ(e.pre, tuple("10.0.0.2", "192.0.2.9", 40001, 53));
    EXPECT_EQ(e.post, tuple("198.51.100.1", "192.0.2.9", 61000, 53));
    EXPECT_EQ(e.protocol, 17);
    EXPECT_EQ(e.time, kNow) << "no conntrack timestamp: the time it was read";
    EXPECT_TRUE(e.source_translated());
    EXPECT_FALSE(e.destination_translated());
  }
  EXPECT_EQ(out[0].type, NatEventType::create);
  EXPECT_EQ(out[1].type, NatEventType::destroy);
}

TEST(ConntrackEvents, DestinationNatAndConntrackTimes) {
  Message m;
  m.status = IPS_DST_NAT;
  m.protocol = 6;
  m.orig = {"10.0.0.2", "198.51.100.1", 40002, 8080};
  m.reply = {"10.0.1.7", "10.0.0.2", 80, 40002};  // to 10.0.1.7:80
  m.start_ns = 1'700'000'000'123'456'789ULL;
  m.stop_ns = 1'700'000'009'000'000'000ULL;
  NatEventCounters c;
  const std::vector<NatEvent> out = created_and_destroyed(m, c);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].post, tuple("10.0.0.2", "10.0.1.7", 40002, 80));
  EXPECT_TRUE(out[0].destination_translated());
  EXPECT_FALSE(out[0].source_translated());
  EXPECT_EQ(out[0].time, 1'700'000'000'123'456LL) << "create: conntrack's start";
  EXPECT_EQ(out[1].time, 1'700'000'009'000'000LL) << "destroy: conntrack's stop";
}

TEST(ConntrackEvents, IcmpIdAndTypeCode) {
  Message m;
  m.protocol = 1;
  m.orig = {"10.0.0.2", "192.0.2.9", 77, 8 << 8};
  m.reply = {"192.0.2.9", "198.51.100.1", 1077, 0};  // echo reply; id translated
  std::vector<std::uint8_t> buf;
  append(buf, m);
  std::vector<NatEvent> out;
  NatEventCounters c;
  parse_conntrack_events(buf, kNow, out, c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].pre, tuple("10.0.0.2", "192.0.2.9", 77, 8 << 8));
  EXPECT_EQ(out[0].post, tuple("198.51.100.1", "192.0.2.9", 1077, 8 << 8));
}

TEST(ConntrackEvents, WithoutNatOrIpv6OrStatusCountedNotExported) {
  std::vector<std::uint8_t> buf;
  Message plain;
  plain.status = IPS_CONFIRMED;
  plain.orig = {"10.0.0.2", "192.0.2.9", 1, 2};
  plain.reply = {"192.0.2.9", "10.0.0.2", 2, 1};
  append(buf, plain);
  Message v6 = plain;
  v6.ipv6 = true;
  v6.status = IPS_SRC_NAT;
  append(buf, v6);
  Message no_status = plain;
  no_status.status.reset();
  append(buf, no_status);
  std::vector<NatEvent> out;
  NatEventCounters c;
  parse_conntrack_events(buf, kNow, out, c);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(c.not_nat, 2u);
  EXPECT_EQ(c.malformed, 1u);
  EXPECT_EQ(c.creates + c.destroys, 0u);
}

// A datagram cut anywhere yields whole events only, never a read past its end (ASan).
TEST(ConntrackEvents, TruncatedDatagramsAreSafe) {
  const Message m = masqueraded_udp();
  std::vector<std::uint8_t> buf;
  append(buf, m);
  append(buf, m);
  for (std::size_t cut = 0; cut <= buf.size(); ++cut) {
    std::vector<std::uint8_t> part(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(cut));
    std::vector<NatEvent> out;
    NatEventCounters c;
    parse_conntrack_events(part, kNow, out, c);
    EXPECT_EQ(out.size(), cut == buf.size() ? 2u : cut >= buf.size() / 2 ? 1u : 0u) << "cut at " << cut;
    // A message cut short is counted; a cut between messages loses nothing.
    const bool between = cut == 0 || cut == buf.size() / 2 || cut == buf.size();
    EXPECT_EQ(c.malformed, between ? 0u : 1u) << "cut at " << cut;
  }
}

// A length field of 2 GiB or more (which libmnl's mnl_nlmsg_ok() takes for a negative int, and
// whose aligned step wraps to 0 from 0xfffffffd on) ends the walk, counted, after the events
// before it. Found by tests/fuzz/conntrack.cpp: the walk used to loop for ever.
TEST(ConntrackEvents, HugeLengthFieldEndsTheWalk) {
  for (const std::uint32_t length : {0x80000000u, 0xfffffff0u, 0xfffffffdu, 0xffffffffu}) {
    const Message m = masqueraded_udp();
    std::vector<std::uint8_t> buf;
    append(buf, m);
    append(buf, m);
    std::uint32_t len = 0;
    std::memcpy(&len, buf.data(), 4);  // nlmsg_len of the first message
    std::memcpy(buf.data() + NLMSG_ALIGN(len), &length, 4);
    std::vector<NatEvent> out;
    NatEventCounters c;
    parse_conntrack_events(buf, kNow, out, c);
    EXPECT_EQ(out.size(), 1u) << std::hex << length;
    EXPECT_EQ(c.malformed, 1u) << std::hex << length;
  }
}

}  // namespace
}  // namespace netflowd
