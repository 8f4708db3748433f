#include "capture/conntrack/nat_event_source.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.hpp"

namespace netflowd {
namespace {

constexpr std::uint8_t kIcmp = 1;

TimeUs realtime_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<TimeUs>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
}

// Collects attributes by type into an array (types beyond it are ignored). Lengths are
// checked where a value is read.
template <std::size_t N>
int collect(const nlattr* a, void* data) {
  auto& out = *static_cast<std::array<const nlattr*, N>*>(data);
  const std::uint16_t type = mnl_attr_get_type(a);
  if (type < N) out[type] = a;
  return MNL_CB_OK;
}

template <std::size_t N>
void nested(const nlattr* nest, std::array<const nlattr*, N>& out) {
  out.fill(nullptr);
  mnl_attr_parse_nested(nest, collect<N>, &out);
}

bool u32_attr(const nlattr* a, std::uint32_t& v) {
  if (a == nullptr || mnl_attr_get_payload_len(a) < 4) return false;
  std::memcpy(&v, mnl_attr_get_payload(a), 4);
  return true;
}
bool u16_attr(const nlattr* a, std::uint16_t& v) {
  if (a == nullptr || mnl_attr_get_payload_len(a) < 2) return false;
  std::memcpy(&v, mnl_attr_get_payload(a), 2);
  return true;
}
bool u8_attr(const nlattr* a, std::uint8_t& v) {
  if (a == nullptr || mnl_attr_get_payload_len(a) < 1) return false;
  v = *static_cast<const std::uint8_t*>(mnl_attr_get_payload(a));
  return true;
}

enum class TupleResult : std::uint8_t { ok, not_ipv4, malformed };

// A CTA_TUPLE_ORIG / CTA_TUPLE_REPLY nest: IPv4 addresses, protocol, ports (ICMP: id, type
// and code).
TupleResult parse_tuple(const nlattr* nest, NatTuple& t, std::uint8_t& protocol) {
  if (nest == nullptr) return TupleResult::malformed;
  std::array<const nlattr*, CTA_TUPLE_MAX + 1> tuple{};
  nested(nest, tuple);
  if (tuple[CTA_TUPLE_IP] == nullptr || tuple[CTA_TUPLE_PROTO] == nullptr) return TupleResult::malformed;
  std::array<const nlattr*, CTA_IP_MAX + 1> ip{};
  nested(tuple[CTA_TUPLE_IP], ip);
  if (ip[CTA_IP_V4_SRC] == nullptr) {
    return ip[CTA_IP_V6_SRC] != nullptr ? TupleResult::not_ipv4 : TupleResult::malformed;
  }
  std::uint32_t src = 0, dst = 0;
  if (!u32_attr(ip[CTA_IP_V4_SRC], src) || !u32_attr(ip[CTA_IP_V4_DST], dst)) return TupleResult::malformed;
  std::memcpy(t.src.data(), &src, 4);  // network order, as on the wire
  std::memcpy(t.dst.data(), &dst, 4);
  std::array<const nlattr*, CTA_PROTO_MAX + 1> proto{};
  nested(tuple[CTA_TUPLE_PROTO], proto);
  if (!u8_attr(proto[CTA_PROTO_NUM], protocol)) return TupleResult::malformed;
  std::uint16_t sport = 0, dport = 0;
  if (protocol == kIcmp) {
    std::uint8_t type = 0, code = 0;
    u16_attr(proto[CTA_PROTO_ICMP_ID], sport);
    u8_attr(proto[CTA_PROTO_ICMP_TYPE], type);
    u8_attr(proto[CTA_PROTO_ICMP_CODE], code);
    t.src_port = ntohs(sport);
    t.dst_port = static_cast<std::uint16_t>(type << 8 | code);
  } else {
    // Protocols without ports (GRE without PPTP helper, ...) have none: 0.
    u16_attr(proto[CTA_PROTO_SRC_PORT], sport);
    u16_attr(proto[CTA_PROTO_DST_PORT], dport);
    t.src_port = ntohs(sport);
    t.dst_port = ntohs(dport);
  }
  return TupleResult::ok;
}

// One ctnetlink message.
void parse_message(const nlmsghdr* nlh, TimeUs now, std::vector<NatEvent>& out, NatEventCounters& counters) {
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_CTNETLINK) return;  // not conntrack (errors, ...)
  const int type = nlh->nlmsg_type & 0xff;
  if (type != IPCTNL_MSG_CT_NEW && type != IPCTNL_MSG_CT_DELETE) return;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nfgenmsg)) {
    ++counters.malformed;
    return;
  }
  std::array<const nlattr*, CTA_MAX + 1> attrs{};
  mnl_attr_parse(nlh, sizeof(nfgenmsg), collect<CTA_MAX + 1>, &attrs);
  std::uint32_t status = 0;
  if (!u32_attr(attrs[CTA_STATUS], status)) {
    ++counters.malformed;
    return;
  }
  status = ntohl(status);
  NatEvent e;
  NatTuple reply;
  std::uint8_t reply_protocol = 0;
  const TupleResult orig = parse_tuple(attrs[CTA_TUPLE_ORIG], e.pre, e.protocol);
  const TupleResult back = orig == TupleResult::ok ? parse_tuple(attrs[CTA_TUPLE_REPLY], reply, reply_protocol) : orig;
  if (orig == TupleResult::malformed || back == TupleResult::malformed) {
    ++counters.malformed;
    return;
  }
  if (orig == TupleResult::not_ipv4 || back == TupleResult::not_ipv4 || (status & IPS_NAT_MASK) == 0) {
    ++counters.not_nat;  // upstream: IPv4 connections with NAT only
    return;
  }
  // After NAT the packet looks like the reply tuple reversed.
  e.post.src = reply.dst;
  e.post.dst = reply.src;
  e.post.src_port = reply.dst_port;
  e.post.dst_port = reply.src_port;
  if (e.protocol == kIcmp) {
    // The reply of an echo is an echo reply: the request's type/code are the original ones.
    e.post.dst_port = e.pre.dst_port;
    e.post.src_port = reply.src_port;  // the id, as translated
  }
  e.type = type == IPCTNL_MSG_CT_NEW ? NatEventType::create : NatEventType::destroy;
  e.time = now;
  if (attrs[CTA_TIMESTAMP] != nullptr) {
    // Conntrack's own times (net.netfilter.nf_conntrack_timestamp=1), in ns since the epoch.
    std::array<const nlattr*, CTA_TIMESTAMP_MAX + 1> ts{};
    nested(attrs[CTA_TIMESTAMP], ts);
    const nlattr* when = ts[e.type == NatEventType::create ? CTA_TIMESTAMP_START : CTA_TIMESTAMP_STOP];
    if (when != nullptr && mnl_attr_get_payload_len(when) >= 8) {
      const std::uint64_t ns = be64toh(mnl_attr_get_u64(when));
      if (ns != 0) e.time = static_cast<TimeUs>(ns / 1000);
    }
  }
  ++(e.type == NatEventType::create ? counters.creates : counters.destroys);
  out.push_back(e);
}

}  // namespace

void parse_conntrack_events(std::span<const std::uint8_t> datagram, TimeUs now, std::vector<NatEvent>& out,
                            NatEventCounters& counters) {
  // The walk checks the lengths itself, unsigned: libmnl's mnl_nlmsg_ok() compares
  // (int)nlmsg_len, so a length of 2 GiB or more passes it as negative, and the
  // 4-byte-aligned length mnl_nlmsg_next() steps by wraps to 0 at 0xfffffffd and beyond,
  // where the walk would never end.
  std::size_t pos = 0;
  while (pos < datagram.size()) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data() + pos);
    if (datagram.size() - pos < sizeof(nlmsghdr) || nlh->nlmsg_len < sizeof(nlmsghdr) ||
        nlh->nlmsg_len > datagram.size() - pos) {
      ++counters.malformed;  // the rest of the datagram cannot be framed: one message cut short
      return;
    }
    parse_message(nlh, now, out, counters);
    pos += std::min<std::size_t>(NLMSG_ALIGN(std::size_t{nlh->nlmsg_len}), datagram.size() - pos);
  }
}

NatEventSource::NatEventSource(int receive_buffer_bytes) : buf_(MNL_SOCKET_BUFFER_SIZE * 4) {
  nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (nl_ == nullptr) throw SetupError(std::string("natevents: netlink socket: ") + std::strerror(errno));
  auto fail = [this](const char* what) {
    const int err = errno;
    mnl_socket_close(nl_);
    throw SetupError(std::string("natevents: ") + what + ": " + std::strerror(err));
  };
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) fail("netlink bind");
  for (int group : {NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_DESTROY}) {
    if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      fail("subscribing to conntrack events (needs CAP_NET_ADMIN and nf_conntrack_netlink)");
    }
  }
  // Events arrive between the export thread's reads (every 100 ms): a burst of new
  // connections must fit. SO_RCVBUFFORCE passes net.core.rmem_max as root.
  const int fd = mnl_socket_get_fd(nl_);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes, sizeof receive_buffer_bytes) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
  }
}

NatEventSource::~NatEventSource() { mnl_socket_close(nl_); }

void NatEventSource::read(std::vector<NatEvent>& out) {
  const int fd = mnl_socket_get_fd(nl_);
  for (;;) {
    const ssize_t n = ::recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        ++counters_.overruns;  // the kernel dropped events; the socket goes on
        continue;
      }
      return;  // EAGAIN: nothing more now
    }
    if (n == 0) return;
    parse_conntrack_events(std::span(buf_).first(static_cast<std::size_t>(n)), realtime_now(), out, counters_);
  }
}

}  // namespace netflowd
