#include "capture/afpacket/afpacket_source.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.hpp"
#include "common/flow_shard.hpp"

namespace netflowd {
namespace {

[[noreturn]] void fail(const std::string& interface, const std::string& what) {
  throw SetupError("interface " + interface + ": " + what + ": " + std::strerror(errno));
}

// The fanout program (classic BPF, run by the kernel for every packet of the interface): the
// ring of the worker that owns the packet's flow, by common/flow_shard.hpp; the kernel takes
// the result modulo the number of rings. Loads are relative to the network header, which the
// kernel has found by then (VLAN tags it stripped are not in the way). Packets that are not
// IPv4 or IPv6 there (MPLS, QinQ, ARP) or are too short go to ring 0; IPv6 packets whose TCP
// or UDP header follows extension headers are placed by their addresses alone. netflowd
// checks every packet's worker itself and hands the few misplaced ones on.
class SteeringProgram {
 public:
  SteeringProgram() {
    constexpr std::uint32_t net = static_cast<std::uint32_t>(SKF_NET_OFF);
    code(BPF_LD | BPF_H | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL));
    jump_eq(ETH_P_IP, kV4, kNext);
    jump_eq(ETH_P_IPV6, kV6, kRing0);

    label(kV4);
    fold_words(net + 12, 2);                  // source and destination address
    code(BPF_ST, 0);                          // M[0] = folded addresses
    code(BPF_LD | BPF_B | BPF_ABS, net + 9);  // protocol
    jump_eq(6, kV4Ports, kNext);
    jump_eq(17, kV4Ports, kAddressesOnly);
    label(kV4Ports);
    code(BPF_LD | BPF_H | BPF_ABS, net + 6);  // a later fragment has no ports
    jump(BPF_JSET, 0x1fff, kAddressesOnly, kNext);
    code(BPF_LDX | BPF_B | BPF_MSH, net);  // X = header length
    code(BPF_LD | BPF_W | BPF_IND, net);   // A = source port << 16 | destination port
    jump_always(kPorts);

    label(kV6);
    fold_words(net + 8, 8);
    code(BPF_ST, 0);
    code(BPF_LD | BPF_B | BPF_ABS, net + 6);  // next header
    jump_eq(6, kV6Ports, kNext);
    jump_eq(17, kV6Ports, kAddressesOnly);
    label(kV6Ports);
    code(BPF_LD | BPF_W | BPF_ABS, net + 40);

    label(kPorts);
    code(BPF_MISC | BPF_TAX, 0);
    code(BPF_LD | BPF_MEM, 0);
    code(BPF_ALU | BPF_XOR | BPF_X, 0);
    jump_always(kMix);
    label(kAddressesOnly);
    code(BPF_LD | BPF_MEM, 0);
    label(kMix);
    code(BPF_ALU | BPF_MUL | BPF_K, kShardMultiplier);
    code(BPF_ALU | BPF_RSH | BPF_K, kShardShift);
    code(BPF_RET | BPF_A, 0);
    label(kRing0);
    code(BPF_RET | BPF_K, 0);
    resolve();
  }
  sock_fprog fprog() { return {static_cast<unsigned short>(code_.size()), code_.data()}; }

 private:
  enum Label : std::uint8_t { kNext, kV4, kV4Ports, kV6, kV6Ports, kPorts, kAddressesOnly, kMix, kRing0, kLabels };
  struct Pending {
    std::size_t at;
    Label jt, jf;
  };

  void code(std::uint16_t op, std::uint32_t k) { code_.push_back(BPF_STMT(op, k)); }
  // A = XOR of `words` big-endian words from `offset` on.
  void fold_words(std::uint32_t offset, int words) {
    code(BPF_LD | BPF_W | BPF_ABS, offset);
    for (int i = 1; i < words; ++i) {
      code(BPF_MISC | BPF_TAX, 0);
      code(BPF_LD | BPF_W | BPF_ABS, offset + 4 * static_cast<std::uint32_t>(i));
      code(BPF_ALU | BPF_XOR | BPF_X, 0);
    }
  }
  void jump(std::uint16_t test, std::uint32_t k, Label jt, Label jf) {
    pending_.push_back({code_.size(), jt, jf});
    code_.push_back(BPF_JUMP(BPF_JMP | test | BPF_K, k, 0, 0));
  }
  void jump_eq(std::uint32_t k, Label jt, Label jf) { jump(BPF_JEQ, k, jt, jf); }
  void jump_always(Label to) {
    pending_.push_back({code_.size(), to, to});
    code(BPF_JMP | BPF_JA, 0);
  }
  void label(Label l) { at_[l] = code_.size(); }
  // Jumps are relative to the next instruction; kNext is the next instruction itself.
  void resolve() {
    for (const Pending& p : pending_) {
      auto target = [&](Label l) { return l == kNext ? 0 : at_[l] - p.at - 1; };
      sock_filter& f = code_[p.at];
      if (BPF_OP(f.code) == BPF_JA) {
        f.k = static_cast<std::uint32_t>(target(p.jt));
      } else {
        f.jt = static_cast<std::uint8_t>(target(p.jt));
        f.jf = static_cast<std::uint8_t>(target(p.jf));
      }
    }
  }

  std::vector<sock_filter> code_;
  std::vector<Pending> pending_;
  std::array<std::size_t, kLabels> at_{};
};

}  // namespace

AfPacketSource::AfPacketSource(const std::string& interface, const AfPacketOptions& options)
    : interface_(interface), options_(options) {
  ifindex_ = ::if_nametoindex(interface.c_str());
  if (ifindex_ == 0) throw SetupError("interface " + interface + ": no such interface");
  fd_.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  if (!fd_) fail(interface, "AF_PACKET socket (needs root or CAP_NET_RAW)");

  // Link type from the device: Ethernet-like devices (including loopback) carry an Ethernet
  // header; devices without link headers (tun, ip tunnels) deliver bare IP.
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd_.get(), SIOCGIFHWADDR, &ifr) != 0) fail(interface, "SIOCGIFHWADDR");
  const auto hatype = ifr.ifr_hwaddr.sa_family;
  link_ = (hatype == ARPHRD_ETHER || hatype == ARPHRD_LOOPBACK) ? LinkType::ethernet : LinkType::raw_ip;

  // Copy only the headers into the ring: a one-instruction filter "accept kAfPacketSnapLength".
  sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, kAfPacketSnapLength}};
  sock_fprog prog{1, code};
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    fail(interface, "SO_ATTACH_FILTER");

  int version = TPACKET_V3;
  if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) fail(interface, "TPACKET_V3");
  tpacket_req3 req{};
  req.tp_block_size = options.block_size;
  req.tp_block_nr = options.block_count;
  req.tp_frame_size = 2048;
  req.tp_frame_nr = options.block_size / 2048 * options.block_count;
  req.tp_retire_blk_tov = 10;  // ms: a partly filled block is handed over after this
  if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) fail(interface, "PACKET_RX_RING");
  ring_size_ = std::size_t{req.tp_block_size} * req.tp_block_nr;
  void* ring =
      ::mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd_.get(), 0);
  if (ring == MAP_FAILED) ring = ::mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (ring == MAP_FAILED) fail(interface, "mmap of the ring");
  ring_ = static_cast<std::uint8_t*>(ring);

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex_);
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) fail(interface, "bind");
  if (options.fanout_group != 0) {
    // Steered by netflowd's program where the kernel allows it (Linux 4.2 and later), else
    // spread by the kernel's flow hash (netflowd then hands on about half of the packets).
    int fanout = options.fanout_group | (PACKET_FANOUT_CBPF << 16);
    if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout) == 0) {
      SteeringProgram program;
      sock_fprog steer = program.fprog();
      if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_FANOUT_DATA, &steer, sizeof steer) != 0) {
        fail(interface, "PACKET_FANOUT_DATA (the fanout program)");
      }
      steered_ = true;
    } else {
      fanout = options.fanout_group | (PACKET_FANOUT_HASH << 16);
      if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout) != 0) {
        fail(interface, "PACKET_FANOUT");
      }
    }
    ring_index_ = options.fanout_index;
  }
  if (options.promiscuous) {
    packet_mreq mreq{};
    mreq.mr_ifindex = static_cast<int>(ifindex_);
    mreq.mr_type = PACKET_MR_PROMISC;
    if (::setsockopt(fd_.get(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      fail(interface, "promiscuous mode");
    }
  }
}

AfPacketSource::~AfPacketSource() {
  if (ring_ != nullptr) ::munmap(ring_, ring_size_);
}

const CaptureStats& AfPacketSource::stats() const {
  // PACKET_STATISTICS returns counts since the last call and resets them.
  tpacket_stats_v3 st{};
  socklen_t len = sizeof st;
  if (::getsockopt(fd_.get(), SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
    stats_.source_drops += st.tp_drops;
    stats_.overruns += st.tp_freeze_q_cnt;
  }
  return stats_;
}

void AfPacketSource::release_block() {
  if (current_ == nullptr) return;
  __atomic_store_n(&current_->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
  current_ = nullptr;
  block_ = (block_ + 1) % options_.block_count;
}

bool AfPacketSource::next_block() {
  for (;;) {
    // The previous block is fully processed: give it back, then look at the next one.
    release_block();
    auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_ + std::size_t{block_} * options_.block_size);
    if ((__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) return false;
    current_ = desc;
    left_in_block_ = desc->hdr.bh1.num_pkts;
    next_frame_ =
        reinterpret_cast<tpacket3_hdr*>(reinterpret_cast<std::uint8_t*>(desc) + desc->hdr.bh1.offset_to_first_pkt);
    if (left_in_block_ > 0) return true;  // a block without frames is given back at once
  }
}

}  // namespace netflowd
