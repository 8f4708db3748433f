// NAT events from conntrack (reference §4): a netlink socket subscribed to ctnetlink's new
// and destroy event groups, read without blocking. Of the events, those of IPv4 connections
// with source or destination NAT become NatEvents; the rest are counted and skipped.
//
// The kernel sends events only while some socket listens (net.netfilter.nf_conntrack_events,
// default 2 on Linux 5.x and later, or 1) and only for the network namespace the socket was
// opened in. Events that did not fit the socket's receive buffer are lost in the kernel: the
// next read reports ENOBUFS, which is counted (`overruns`); the events themselves cannot be
// recovered.
//
// Thread affinity: one thread (the export thread) reads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "flow/nat_event.hpp"

struct mnl_socket;

namespace netflowd {

// Parses one ctnetlink event message (a netlink message of type IPCTNL_MSG_CT_NEW or
// IPCTNL_MSG_CT_DELETE) into `out` when it is an IPv4 NAT event; counts it either way.
// `now` is the event's time when the message carries no conntrack timestamp.
void parse_conntrack_events(std::span<const std::uint8_t> datagram, TimeUs now, std::vector<NatEvent>& out,
                            NatEventCounters& counters);

class NatEventSource {
 public:
  // Throws SetupError (with the reason) when the socket cannot be opened or subscribed: not
  // root (CAP_NET_ADMIN), or a kernel without conntrack netlink.
  explicit NatEventSource(int receive_buffer_bytes = 4 << 20);
  ~NatEventSource();
  NatEventSource(const NatEventSource&) = delete;
  NatEventSource& operator=(const NatEventSource&) = delete;

  // Appends the events waiting in the socket; never blocks.
  void read(std::vector<NatEvent>& out);
  const NatEventCounters& counters() const { return counters_; }

 private:
  mnl_socket* nl_ = nullptr;
  std::vector<std::uint8_t> buf_;
  NatEventCounters counters_;
};

}  // namespace netflowd
