#include "capture/netlink/interface_table.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace netflowd {
namespace {

std::string link_type_name(unsigned type) {
  switch (type) {
    case ARPHRD_ETHER: return "Ethernet";
    case ARPHRD_LOOPBACK: return "Loopback";
    case ARPHRD_PPP: return "PPP";
    case ARPHRD_IPGRE: return "GRE over IP";
    case ARPHRD_TUNNEL: return "IPIP tunnel";
    case ARPHRD_TUNNEL6: return "IP6IP6 tunnel";
    case ARPHRD_SIT: return "sit";
    case ARPHRD_NONE: return "none";
    case ARPHRD_INFINIBAND: return "InfiniBand";
    case ARPHRD_IEEE80211: return "IEEE 802.11";
    default: return "type " + std::to_string(type);
  }
}

struct LinkAttributes {
  std::string name;
  std::string alias;
};

int on_attribute(const nlattr* attr, void* data) {
  auto* out = static_cast<LinkAttributes*>(data);
  const auto type = mnl_attr_get_type(attr);
  const auto* text = static_cast<const char*>(mnl_attr_get_payload(attr));
  const std::size_t len = strnlen(text, mnl_attr_get_payload_len(attr));
  if (type == IFLA_IFNAME) out->name.assign(text, len);
  if (type == IFLA_IFALIAS) out->alias.assign(text, len);
  return MNL_CB_OK;
}

int on_link(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<InterfaceInfo>*>(data);
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkAttributes attrs;
  mnl_attr_parse(nlh, sizeof(*ifi), on_attribute, &attrs);
  InterfaceInfo info;
  info.ifindex = static_cast<std::uint32_t>(ifi->ifi_index);
  info.name = attrs.name;
  info.description = attrs.alias.empty() ? link_type_name(ifi->ifi_type) : attrs.alias;
  out->push_back(std::move(info));
  return MNL_CB_OK;
}

}  // namespace

std::vector<InterfaceInfo> read_interfaces() {
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (nl == nullptr) throw SetupError(std::string("rtnetlink socket: ") + std::strerror(errno));
  struct Closer {
    mnl_socket* s;
    ~Closer() { mnl_socket_close(s); }
  } closer{nl};
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
    throw SetupError(std::string("rtnetlink bind: ") + std::strerror(errno));

  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  const unsigned seq = static_cast<unsigned>(::getpid());
  nlh->nlmsg_seq = seq;
  auto* req = static_cast<rtgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtgenmsg)));
  req->rtgen_family = AF_PACKET;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
    throw SetupError(std::string("rtnetlink send: ") + std::strerror(errno));

  std::vector<InterfaceInfo> out;
  const unsigned portid = mnl_socket_get_portid(nl);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) throw SetupError(std::string("rtnetlink receive: ") + std::strerror(errno));
    const int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, on_link, &out);
    if (rc == MNL_CB_STOP) break;
    if (rc < 0) throw SetupError(std::string("rtnetlink dump: ") + std::strerror(errno));
  }
  return out;
}

InterfaceWatcher::InterfaceWatcher()
    : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE)) {
  if (!fd_) throw SetupError(std::string("rtnetlink socket: ") + std::strerror(errno));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw SetupError(std::string("rtnetlink bind: ") + std::strerror(errno));
  }
}

bool InterfaceWatcher::changed() {
  bool any = false;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      any = true;
      continue;
    }
    // ENOBUFS means notifications were lost: the table may have changed.
    if (n < 0 && errno == ENOBUFS) {
      any = true;
      continue;
    }
    return any;
  }
}

}  // namespace netflowd
