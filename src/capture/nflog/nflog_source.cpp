#include "capture/nflog/nflog_source.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/time.hpp"

namespace netflowd {
namespace {

// The kernel sends a batch when its buffer is full, when kBatchPackets are queued, or
// kBatchTimeout after the first packet of the batch. Each batch costs the reader a wake-up
// (poll, context switch, recv), which costs more than reading the packets in it: with
// batches of at most 64 packets instead of a full buffer (about 400 packets cut to
// kNflogCopyRange; 740 of the live benchmark's short ones), netflowd spent 250 ns per packet
// instead of about 80-100 ns (docs/performance.md). Slow traffic still arrives within 10 ms.
constexpr std::uint32_t kBatchPackets = 1024;
constexpr std::uint32_t kBatchTimeout = 1;              // 1/100 s
constexpr std::uint32_t kKernelBatchBytes = 64 * 1024;  // NFULA_CFG_NLBUFSIZ
// The kernel rounds a batch's allocation (kKernelBatchBytes and its own bookkeeping) up to
// a power of two and fills all of it, so a batch can be twice kKernelBatchBytes; a batch
// larger than the receive buffer would be cut short (counted: receive_batch()).
static_assert(kNflogBatchBuffer >= 4 * kKernelBatchBytes);

nlmsghdr* config_header(char* buf, std::uint8_t family, std::uint16_t group) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(group);
  return nlh;
}

FlowDirection direction_of_hook(std::uint8_t hook) {
  switch (hook) {
    case NF_INET_PRE_ROUTING:
    case NF_INET_LOCAL_IN: return FlowDirection::ingress;
    case NF_INET_FORWARD: return FlowDirection::forward;
    default: return FlowDirection::egress;  // LOCAL_OUT, POST_ROUTING
  }
}

TimeUs realtime_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<TimeUs>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
}

}  // namespace

NflogSource::NflogSource(std::uint16_t group, int receive_buffer_bytes, std::size_t batch_buffer_bytes)
    : group_(group), buf_((batch_buffer_bytes + 3) / 4) {
  nl_ = mnl_socket_open(NETLINK_NETFILTER);
  if (nl_ == nullptr) throw SetupError(std::string("nflog: netlink socket: ") + std::strerror(errno));
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(nl_);
    throw SetupError(std::string("nflog: netlink bind: ") + std::strerror(errno));
  }
  // A large receive buffer absorbs bursts; SO_RCVBUFFORCE passes net.core.rmem_max as root.
  const int fd = mnl_socket_get_fd(nl_);
  if (receive_buffer_bytes > 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer_bytes, sizeof receive_buffer_bytes) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
  }
  try {
    configure(group);
  } catch (...) {
    mnl_socket_close(nl_);
    throw;
  }
}

NflogSource::~NflogSource() {
  if (nl_ != nullptr) mnl_socket_close(nl_);
}

void NflogSource::configure(std::uint16_t group) {
  std::vector<char> storage(MNL_SOCKET_BUFFER_SIZE);
  char* buf = storage.data();
  const unsigned portid = mnl_socket_get_portid(nl_);
  unsigned seq = 1;
  auto send_and_ack = [&](nlmsghdr* nlh, const char* what, bool must_succeed) {
    nlh->nlmsg_seq = seq;
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) {
      throw SetupError(std::string("nflog group ") + std::to_string(group) + ": " + what + ": " + std::strerror(errno));
    }
    const ssize_t n = mnl_socket_recvfrom(nl_, buf, storage.size());
    const int rc = n < 0 ? -1 : mnl_cb_run(buf, static_cast<size_t>(n), seq, portid, nullptr, nullptr);
    ++seq;
    if (rc < 0 && must_succeed) {
      const int err = errno;
      std::string hint = err == EBUSY   ? " (another program is bound to this group)"
                         : err == EPERM ? " (needs root or CAP_NET_ADMIN)"
                                        : "";
      throw SetupError(std::string("nflog group ") + std::to_string(group) + ": " + what + ": " + std::strerror(err) +
                       hint);
    }
  };

  // Older kernels need the per-family logger bound to nfnetlink_log; newer ones ignore this.
  for (std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    nlmsghdr* nlh = config_header(buf, family, 0);
    nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_PF_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
    send_and_ack(nlh, "bind family", false);
  }
  {
    nlmsghdr* nlh = config_header(buf, AF_UNSPEC, group);
    nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
    send_and_ack(nlh, "bind group", true);
  }
  {
    nlmsghdr* nlh = config_header(buf, AF_UNSPEC, group);
    nfulnl_msg_config_mode mode{};
    mode.copy_range = htonl(kNflogCopyRange);
    mode.copy_mode = NFULNL_COPY_PACKET;
    mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
    mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(kBatchPackets));
    mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(kBatchTimeout));
    mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(kKernelBatchBytes));
    mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
    send_and_ack(nlh, "configure copy mode", true);
  }
}

int NflogSource::poll_fd() const { return mnl_socket_get_fd(nl_); }

bool NflogSource::receive_batch() {
  const int fd = mnl_socket_get_fd(nl_);
  for (;;) {
    // MSG_TRUNC: the batch's whole length, also when it did not fit.
    const std::size_t size = buf_.size() * sizeof(buf_[0]);
    const ssize_t n = ::recv(fd, buf_.data(), size, MSG_DONTWAIT | MSG_TRUNC);
    if (n > 0) {
      std::size_t length = static_cast<std::size_t>(n);
      if (length > size) {
        // Cut short: the messages that fit are read; the sequence gap counts the rest.
        ++stats_.overruns;
        length = size;
      }
      reader_.start(reinterpret_cast<const std::uint8_t*>(buf_.data()), length);
      return true;
    }
    if (n < 0 && errno == ENOBUFS) {
      // The kernel could not queue messages for us; the sequence gap tells how many packets.
      ++stats_.overruns;
      continue;
    }
    return false;  // EAGAIN: nothing queued (the caller polls poll_fd()), EINTR, or an error
  }
}

// Attributes are read in place, with the lengths checked here: one loop over the message
// instead of libmnl's parse callback and a getter call per attribute (NFLOG decoding was a
// seventh of netflowd's CPU per packet in the live benchmark).
namespace {

// Calls fn(type, attribute) for every well-formed attribute in [p, end); stops at a broken one.
template <typename Fn>
void for_each_attr(const std::uint8_t* p, const std::uint8_t* end, Fn fn) {
  while (end - p >= static_cast<std::ptrdiff_t>(sizeof(nlattr))) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (a->nla_len < sizeof(nlattr) || a->nla_len > end - p) return;
    fn(static_cast<std::uint16_t>(a->nla_type & NLA_TYPE_MASK), a);
    p += NLA_ALIGN(a->nla_len);
  }
}

std::size_t attr_len(const nlattr* a) { return a->nla_len - MNL_ATTR_HDRLEN; }
const std::uint8_t* attr_data(const nlattr* a) { return reinterpret_cast<const std::uint8_t*>(a) + MNL_ATTR_HDRLEN; }
// A big-endian 32/16-bit attribute, or `fallback` when it is too short.
std::uint32_t attr_be32(const nlattr* a, std::uint32_t fallback = 0) {
  if (attr_len(a) < 4) return fallback;
  std::uint32_t v;
  std::memcpy(&v, attr_data(a), 4);
  return ntohl(v);
}
std::uint16_t attr_be16(const nlattr* a) {
  if (attr_len(a) < 2) return 0;
  std::uint16_t v;
  std::memcpy(&v, attr_data(a), 2);
  return ntohs(v);
}

}  // namespace

bool NflogBatchReader::decode(const std::uint8_t* message, CapturedFrame& frame, CaptureStats& stats) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(message);
  if ((nlh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET || (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_ULOG) return false;
  const nlattr* attrs[NFULA_MAX + 1] = {};
  for_each_attr(message + NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg)), message + nlh->nlmsg_len,
                [&](std::uint16_t type, const nlattr* a) {
                  if (type <= NFULA_MAX) attrs[type] = a;
                });
  if (attrs[NFULA_PAYLOAD] == nullptr) return false;

  if (attrs[NFULA_SEQ] != nullptr && attr_len(attrs[NFULA_SEQ]) >= 4) {
    const std::uint32_t seq = attr_be32(attrs[NFULA_SEQ]);
    if (have_seq_ && seq != next_seq_) stats.source_drops += static_cast<std::uint32_t>(seq - next_seq_);
    have_seq_ = true;
    next_seq_ = seq + 1;
  }
  PacketMeta& m = frame.meta;
  m.reset(0);
  if (attrs[NFULA_TIMESTAMP] != nullptr && attr_len(attrs[NFULA_TIMESTAMP]) >= sizeof(nfulnl_msg_packet_timestamp)) {
    nfulnl_msg_packet_timestamp ts{};
    std::memcpy(&ts, attr_data(attrs[NFULA_TIMESTAMP]), sizeof ts);
    const std::uint64_t sec = be64toh(ts.sec);
    const std::uint64_t usec = be64toh(ts.usec);
    // Not a time (past the year 9999, or more than a second of microseconds): as none.
    m.timestamp = sec <= static_cast<std::uint64_t>(kLastSecond) && usec < static_cast<std::uint64_t>(kUsPerSecond)
                      ? static_cast<TimeUs>(sec) * kUsPerSecond + static_cast<TimeUs>(usec)
                      : realtime_now();
  } else {
    m.timestamp = realtime_now();  // locally generated packets carry no timestamp
  }
  if (attrs[NFULA_PACKET_HDR] != nullptr && attr_len(attrs[NFULA_PACKET_HDR]) >= sizeof(nfulnl_msg_packet_hdr)) {
    nfulnl_msg_packet_hdr hdr{};
    std::memcpy(&hdr, attr_data(attrs[NFULA_PACKET_HDR]), sizeof hdr);
    m.direction = direction_of_hook(hdr.hook);
  }
  if (attrs[NFULA_IFINDEX_INDEV] != nullptr) m.in_ifindex = attr_be32(attrs[NFULA_IFINDEX_INDEV]);
  if (attrs[NFULA_IFINDEX_OUTDEV] != nullptr) m.out_ifindex = attr_be32(attrs[NFULA_IFINDEX_OUTDEV]);
  if (attrs[NFULA_IFINDEX_PHYSINDEV] != nullptr) m.phys_in_ifindex = attr_be32(attrs[NFULA_IFINDEX_PHYSINDEV]);
  if (attrs[NFULA_IFINDEX_PHYSOUTDEV] != nullptr) m.phys_out_ifindex = attr_be32(attrs[NFULA_IFINDEX_PHYSOUTDEV]);
  // The MAC header, when the packet came from an Ethernet device (not for locally generated).
  if (attrs[NFULA_HWHEADER] != nullptr && attrs[NFULA_HWTYPE] != nullptr &&
      attr_be16(attrs[NFULA_HWTYPE]) == 1 /* ARPHRD_ETHER */ && attr_len(attrs[NFULA_HWHEADER]) >= 12) {
    const std::uint8_t* hw = attr_data(attrs[NFULA_HWHEADER]);
    m.has_mac = true;
    std::memcpy(m.dst_mac.data(), hw, 6);
    std::memcpy(m.src_mac.data(), hw + 6, 6);
  }
  if (attrs[NFULA_VLAN] != nullptr) {
    const std::uint8_t* nested = attr_data(attrs[NFULA_VLAN]);
    for_each_attr(nested, nested + attr_len(attrs[NFULA_VLAN]), [&](std::uint16_t type, const nlattr* v) {
      if (type == NFULA_VLAN_TCI && attr_len(v) >= 2) {
        m.has_stripped_vlan = true;
        m.stripped_vlan_tci = attr_be16(v);
      }
    });
  }
  frame.bytes = std::span<const std::uint8_t>(attr_data(attrs[NFULA_PAYLOAD]), attr_len(attrs[NFULA_PAYLOAD]));
  // Only kNflogCopyRange bytes are copied and NFLOG does not say how long the packet was:
  // the kernel has already checked the IP header, so its length field is trusted.
  frame.wire_length = UINT32_MAX;
  ++stats.frames;
  return true;
}

bool NflogBatchReader::next(CapturedFrame& frame, CaptureStats& stats) {
  while (pos_ < length_) {
    const std::uint8_t* message = batch_ + pos_;
    const std::size_t remaining = length_ - pos_;
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(message);
    if (remaining < sizeof(nlmsghdr) || nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > remaining) {
      pos_ = length_;
      return false;
    }
    pos_ += std::min<std::size_t>(NLMSG_ALIGN(nlh->nlmsg_len), remaining);
    if (decode(message, frame, stats)) return true;
  }
  return false;
}

NextResult NflogSource::next(CapturedFrame& frame) {
  for (;;) {
    if (reader_.next(frame, stats_)) return NextResult::frame;
    if (!receive_batch()) return NextResult::idle;
  }
}

}  // namespace netflowd
