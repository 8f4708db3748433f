#include "capture/nflog/nflog_source.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace netflowd {
namespace {

constexpr int kPollMs = 100;
constexpr std::uint32_t kBatchPackets = 64;  // the kernel sends when this many are queued...
constexpr std::uint32_t kBatchTimeout = 1;   // ...or after 1/100 s

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

NflogSource::NflogSource(std::uint16_t group, int receive_buffer_bytes)
    : group_(group), buf_(MNL_SOCKET_BUFFER_SIZE * 32) {
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
    mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(static_cast<std::uint32_t>(MNL_SOCKET_BUFFER_SIZE * 16)));
    mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
    send_and_ack(nlh, "configure copy mode", true);
  }
}

bool NflogSource::receive_batch() {
  const int fd = mnl_socket_get_fd(nl_);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, kPollMs);
    if (ready == 0) return false;
    if (ready < 0 && errno == EINTR) return false;
    const ssize_t n = ::recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n > 0) {
      buf_len_ = static_cast<std::size_t>(n);
      buf_pos_ = 0;
      return true;
    }
    if (n < 0 && errno == ENOBUFS) {
      // The kernel could not queue messages for us; the sequence gap tells how many packets.
      ++overruns_;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    return false;
  }
}

bool NflogSource::decode(const void* msg, CapturedFrame& frame) {
  const auto* nlh = static_cast<const nlmsghdr*>(msg);
  if ((nlh->nlmsg_type & 0xff) != NFULNL_MSG_PACKET || (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_ULOG) return false;
  const nlattr* attrs[NFULA_MAX + 1] = {};
  mnl_attr_parse(
      nlh, sizeof(nfgenmsg),
      [](const nlattr* a, void* data) {
        const auto type = mnl_attr_get_type(a);
        if (type <= NFULA_MAX) static_cast<const nlattr**>(data)[type] = a;
        return MNL_CB_OK;
      },
      attrs);
  if (attrs[NFULA_PAYLOAD] == nullptr) return false;

  if (attrs[NFULA_SEQ] != nullptr) {
    const std::uint32_t seq = ntohl(mnl_attr_get_u32(attrs[NFULA_SEQ]));
    if (have_seq_ && seq != next_seq_) stats_.source_drops += static_cast<std::uint32_t>(seq - next_seq_);
    have_seq_ = true;
    next_seq_ = seq + 1;
  }
  PacketMeta& m = frame.meta;
  m = PacketMeta{};
  if (attrs[NFULA_TIMESTAMP] != nullptr &&
      mnl_attr_get_payload_len(attrs[NFULA_TIMESTAMP]) >= sizeof(nfulnl_msg_packet_timestamp)) {
    nfulnl_msg_packet_timestamp ts{};
    std::memcpy(&ts, mnl_attr_get_payload(attrs[NFULA_TIMESTAMP]), sizeof ts);
    m.timestamp = static_cast<TimeUs>(be64toh(ts.sec)) * kUsPerSecond + static_cast<TimeUs>(be64toh(ts.usec));
  } else {
    m.timestamp = realtime_now();  // locally generated packets carry no timestamp
  }
  if (attrs[NFULA_PACKET_HDR] != nullptr &&
      mnl_attr_get_payload_len(attrs[NFULA_PACKET_HDR]) >= sizeof(nfulnl_msg_packet_hdr)) {
    const auto* hdr = static_cast<const nfulnl_msg_packet_hdr*>(mnl_attr_get_payload(attrs[NFULA_PACKET_HDR]));
    m.direction = direction_of_hook(hdr->hook);
  }
  if (attrs[NFULA_IFINDEX_INDEV] != nullptr) m.in_ifindex = ntohl(mnl_attr_get_u32(attrs[NFULA_IFINDEX_INDEV]));
  if (attrs[NFULA_IFINDEX_OUTDEV] != nullptr) m.out_ifindex = ntohl(mnl_attr_get_u32(attrs[NFULA_IFINDEX_OUTDEV]));
  if (attrs[NFULA_IFINDEX_PHYSINDEV] != nullptr) {
    m.phys_in_ifindex = ntohl(mnl_attr_get_u32(attrs[NFULA_IFINDEX_PHYSINDEV]));
  }
  if (attrs[NFULA_IFINDEX_PHYSOUTDEV] != nullptr) {
    m.phys_out_ifindex = ntohl(mnl_attr_get_u32(attrs[NFULA_IFINDEX_PHYSOUTDEV]));
  }
  // The MAC header, when the packet came from an Ethernet device (not for locally generated).
  if (attrs[NFULA_HWHEADER] != nullptr && attrs[NFULA_HWTYPE] != nullptr &&
      ntohs(mnl_attr_get_u16(attrs[NFULA_HWTYPE])) == 1 /* ARPHRD_ETHER */ &&
      mnl_attr_get_payload_len(attrs[NFULA_HWHEADER]) >= 12) {
    const auto* hw = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attrs[NFULA_HWHEADER]));
    m.has_mac = true;
    std::memcpy(m.dst_mac.data(), hw, 6);
    std::memcpy(m.src_mac.data(), hw + 6, 6);
  }
  if (attrs[NFULA_VLAN] != nullptr) {
    const nlattr* vlan[NFULA_VLAN_MAX + 1] = {};
    mnl_attr_parse_nested(
        attrs[NFULA_VLAN],
        [](const nlattr* a, void* data) {
          const auto type = mnl_attr_get_type(a);
          if (type <= NFULA_VLAN_MAX) static_cast<const nlattr**>(data)[type] = a;
          return MNL_CB_OK;
        },
        vlan);
    if (vlan[NFULA_VLAN_TCI] != nullptr) {
      m.has_stripped_vlan = true;
      m.stripped_vlan_tci = ntohs(mnl_attr_get_u16(vlan[NFULA_VLAN_TCI]));
    }
  }
  const auto* payload = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attrs[NFULA_PAYLOAD]));
  frame.bytes = std::span<const std::uint8_t>(payload, mnl_attr_get_payload_len(attrs[NFULA_PAYLOAD]));
  // Only kNflogCopyRange bytes are copied and NFLOG does not say how long the packet was:
  // the kernel has already checked the IP header, so its length field is trusted.
  frame.wire_length = UINT32_MAX;
  ++stats_.frames;
  return true;
}

NextResult NflogSource::next(CapturedFrame& frame) {
  for (;;) {
    while (buf_pos_ < buf_len_) {
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data() + buf_pos_);
      const std::size_t remaining = buf_len_ - buf_pos_;
      if (remaining < sizeof(nlmsghdr) || nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > remaining) {
        buf_pos_ = buf_len_;
        break;
      }
      buf_pos_ += NLMSG_ALIGN(nlh->nlmsg_len);
      if (decode(nlh, frame)) return NextResult::frame;
    }
    if (!receive_batch()) return NextResult::idle;
  }
}

}  // namespace netflowd
