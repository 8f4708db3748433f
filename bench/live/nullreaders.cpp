// nullreaders: do-nothing consumers of netflowd's two live sources, the baselines of
// bench/live/run.sh. They receive exactly as netflowd's sources do and only count.
//
//   nullreaders nflog GROUP            NFLOG group GROUP through libmnl
//   nullreaders afpacket IFACE [RINGS] AF_PACKET TPACKET_V3 ring(s) on IFACE (RINGS > 1: one
//                                      ring and thread each, in a PACKET_FANOUT_HASH group)
//
// The kernel side is configured as in src/capture/nflog/nflog_source.cpp and
// src/capture/afpacket/afpacket_source.cpp (read there, not linked, so the baseline does not
// change when netflowd's code does; keep the constants below in step with them):
//   NFLOG: copy mode packet, copy range 256 bytes, qthresh 1024 packets, flush timeout
//          1/100 s, kernel batch buffer 64 KiB, NFULNL_CFG_F_SEQ, SO_RCVBUFFORCE 32 MiB, a
//          256 KiB receive buffer (recv with MSG_TRUNC), poll() with a 100 ms timeout.
//   AF_PACKET: ETH_P_ALL bound to the interface, a socket filter that keeps 256 bytes,
//          32 blocks of 1 MiB, 2048-byte frames, block retire timeout 10 ms, the ring mapped
//          MAP_LOCKED | MAP_POPULATE, poll() with a 100 ms timeout.
//
// Per packet the NFLOG reader walks the netlink messages and their attributes (it needs the
// sequence number to count drops; it reads the payload length and nothing else); the ring
// reader walks the frame headers of each block (it reads tp_len, never the packet).
//
// Output on stdout, one line each, key=value:
//   nullreader: ready ...                  once every socket is bound
//   nullreader: snapshot packets=... ...   on SIGUSR1
//   nullreader: final packets=... ...      on SIGTERM or SIGINT, then exit 0
// Keys: packets, bytes (as the kernel reported them: NFLOG payload lengths, ring tp_len);
// NFLOG: seq_drops (packets missing from the NFULA_SEQ sequence, counted from 0, the first
// number of a new instance), enobufs (ENOBUFS returned by recv: the kernel dropped at least one
// batch); AF_PACKET: tp_packets, tp_drops, tp_freeze_q_cnt (PACKET_STATISTICS, summed over the
// rings; tp_packets includes tp_drops); cpu_user_ns, cpu_sys_ns (getrusage of this process).
//
// Build: g++ -O2 -std=c++20 nullreaders.cpp -lmnl -pthread (run.sh does it).
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kPollMs = 100;

// NFLOG settings of NflogSource.
constexpr std::uint32_t kNflogCopyRange = 256;
constexpr std::uint32_t kNflogQthresh = 1024;
constexpr std::uint32_t kNflogBatchBytes = 64 * 1024;
constexpr std::uint32_t kNflogTimeout = 1;  // 1/100 s
constexpr int kNflogReceiveBuffer = 32 << 20;

// Ring settings of AfPacketSource.
constexpr std::uint32_t kSnapLength = 256;
constexpr std::uint32_t kBlockSize = 1u << 20;
constexpr std::uint32_t kBlockCount = 32;
constexpr std::uint32_t kFrameSize = 2048;
constexpr unsigned kRetireTimeoutMs = 10;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "nullreaders: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// Counters written by one reader thread, read by the main thread; one cache line each.
struct alignas(64) Counters {
  std::atomic<std::uint64_t> packets{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> seq_drops{0};
  std::atomic<std::uint64_t> enobufs{0};
};

void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
  // Single writer: a relaxed load and store, no locked instruction on the packet path.
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

std::string cpu_keys() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return static_cast<unsigned long long>(tv.tv_sec) * 1000000000ull +
           static_cast<unsigned long long>(tv.tv_usec) * 1000ull;
  };
  return " cpu_user_ns=" + std::to_string(ns(ru.ru_utime)) + " cpu_sys_ns=" + std::to_string(ns(ru.ru_stime));
}

// ---- NFLOG ------------------------------------------------------------------------------

nlmsghdr* nflog_config_header(char* buf, std::uint8_t family, std::uint16_t group) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(group);
  return nlh;
}

class NflogReader {
 public:
  explicit NflogReader(std::uint16_t group) {
    nl_ = mnl_socket_open(NETLINK_NETFILTER);
    if (nl_ == nullptr) die("netlink socket");
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) die("netlink bind");
    const int fd = mnl_socket_get_fd(nl_);
    int size = kNflogReceiveBuffer;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    std::vector<char> storage(MNL_SOCKET_BUFFER_SIZE);
    char* buf = storage.data();
    unsigned seq = 1;
    auto request = [&](nlmsghdr* nlh, const char* what, bool must_succeed) {
      nlh->nlmsg_seq = seq;
      if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) die(what);
      const ssize_t n = mnl_socket_recvfrom(nl_, buf, storage.size());
      const int rc =
          n < 0 ? -1 : mnl_cb_run(buf, static_cast<size_t>(n), seq, mnl_socket_get_portid(nl_), nullptr, nullptr);
      ++seq;
      if (rc < 0 && must_succeed) die(std::string("nflog group ") + std::to_string(group) + ": " + what);
    };
    for (std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
      nlmsghdr* nlh = nflog_config_header(buf, family, 0);
      nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_PF_BIND};
      mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
      request(nlh, "bind family", false);
    }
    {
      nlmsghdr* nlh = nflog_config_header(buf, AF_UNSPEC, group);
      nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
      mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
      request(nlh, "bind group", true);
    }
    {
      nlmsghdr* nlh = nflog_config_header(buf, AF_UNSPEC, group);
      nfulnl_msg_config_mode mode{};
      mode.copy_range = htonl(kNflogCopyRange);
      mode.copy_mode = NFULNL_COPY_PACKET;
      mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
      mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(kNflogQthresh));
      mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(kNflogTimeout));
      mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl(kNflogBatchBytes));
      mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
      request(nlh, "configure copy mode", true);
    }
    buf_.resize(4 * kNflogBatchBytes);
  }
  ~NflogReader() { mnl_socket_close(nl_); }
  NflogReader(const NflogReader&) = delete;
  NflogReader& operator=(const NflogReader&) = delete;

  void run(const std::atomic<bool>& stop, Counters& c) {
    const int fd = mnl_socket_get_fd(nl_);
    std::uint32_t next_seq = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) <= 0) continue;
      for (;;) {
        ssize_t n = ::recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n > static_cast<ssize_t>(buf_.size())) n = static_cast<ssize_t>(buf_.size());  // seq gaps count the rest
        if (n < 0) {
          if (errno == ENOBUFS) {
            bump(c.enobufs, 1);
            continue;
          }
          break;  // EAGAIN: back to poll
        }
        std::uint64_t packets = 0;
        std::uint64_t bytes = 0;
        const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data());
        int left = static_cast<int>(n);
        while (mnl_nlmsg_ok(nlh, left)) {
          if (nlh->nlmsg_type == ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) {
            bool payload = false;
            const auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
            const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
            for (; mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
                 attr = mnl_attr_next(attr)) {
              const auto type = mnl_attr_get_type(attr);
              if (type == NFULA_SEQ) {
                const std::uint32_t seq = ntohl(mnl_attr_get_u32(attr));
                if (seq != next_seq) bump(c.seq_drops, static_cast<std::uint32_t>(seq - next_seq));
                next_seq = seq + 1;
              } else if (type == NFULA_PAYLOAD) {
                bytes += mnl_attr_get_payload_len(attr);
                payload = true;
              }
            }
            packets += payload ? 1 : 0;
          }
          nlh = mnl_nlmsg_next(nlh, &left);
        }
        bump(c.packets, packets);
        bump(c.bytes, bytes);
      }
    }
  }

 private:
  mnl_socket* nl_ = nullptr;
  std::vector<char> buf_;
};

// ---- AF_PACKET ----------------------------------------------------------------------------

class RingReader {
 public:
  RingReader(const std::string& iface, int fanout_id) {
    const unsigned ifindex = ::if_nametoindex(iface.c_str());
    if (ifindex == 0) die("no interface " + iface);
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd_ < 0) die("AF_PACKET socket");
    sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, kSnapLength}};
    sock_fprog prog{1, code};
    if (::setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) die("SO_ATTACH_FILTER");
    int version = TPACKET_V3;
    if (::setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) die("TPACKET_V3");
    tpacket_req3 req{};
    req.tp_block_size = kBlockSize;
    req.tp_block_nr = kBlockCount;
    req.tp_frame_size = kFrameSize;
    req.tp_frame_nr = kBlockSize / kFrameSize * kBlockCount;
    req.tp_retire_blk_tov = kRetireTimeoutMs;
    if (::setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) die("PACKET_RX_RING");
    size_ = std::size_t{kBlockSize} * kBlockCount;
    void* ring = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED | MAP_POPULATE, fd_, 0);
    if (ring == MAP_FAILED) ring = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (ring == MAP_FAILED) die("mmap of the ring");
    ring_ = static_cast<std::uint8_t*>(ring);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(ifindex);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) die("bind");
    if (fanout_id != 0) {
      const int fanout = fanout_id | (PACKET_FANOUT_HASH << 16);
      if (::setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout) != 0) die("PACKET_FANOUT");
    }
  }
  ~RingReader() {
    ::munmap(ring_, size_);
    ::close(fd_);
  }
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  void run(const std::atomic<bool>& stop, Counters& c) {
    std::uint32_t block = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      auto* desc = reinterpret_cast<tpacket_block_desc*>(ring_ + std::size_t{block} * kBlockSize);
      if ((__atomic_load_n(&desc->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) {
        pollfd p{fd_, POLLIN | POLLERR, 0};
        ::poll(&p, 1, kPollMs);
        continue;
      }
      const std::uint32_t n = desc->hdr.bh1.num_pkts;
      std::uint64_t bytes = 0;
      const auto* h = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const std::uint8_t*>(desc) +
                                                            desc->hdr.bh1.offset_to_first_pkt);
      for (std::uint32_t i = 0; i < n; ++i) {
        bytes += h->tp_len;
        h = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const std::uint8_t*>(h) + h->tp_next_offset);
      }
      __atomic_store_n(&desc->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      block = (block + 1) % kBlockCount;
      bump(c.packets, n);
      bump(c.bytes, bytes);
    }
  }

  // PACKET_STATISTICS returns the counts since the previous call and resets them.
  tpacket_stats_v3 take_stats() const {
    tpacket_stats_v3 st{};
    socklen_t len = sizeof st;
    if (::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) std::memset(&st, 0, sizeof st);
    return st;
  }

 private:
  int fd_ = -1;
  std::uint8_t* ring_ = nullptr;
  std::size_t size_ = 0;
};

int usage() {
  std::fprintf(stderr, "usage: nullreaders nflog GROUP | nullreaders afpacket IFACE [RINGS]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  if (mode != "nflog" && mode != "afpacket") return usage();

  // Signals are taken by the main thread with sigwait; the reader threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<NflogReader> nflog;
  std::vector<std::unique_ptr<RingReader>> rings;
  if (mode == "nflog") {
    const long group = std::strtol(argv[2], nullptr, 10);
    if (group < 0 || group > 65535) return usage();
    nflog = std::make_unique<NflogReader>(static_cast<std::uint16_t>(group));
  } else {
    const long count = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 1;
    if (count < 1 || count > 64) return usage();
    const int fanout_id = count > 1 ? static_cast<int>((::getpid() & 0xfff) << 4) + 1 : 0;
    for (long i = 0; i < count; ++i) rings.push_back(std::make_unique<RingReader>(argv[2], fanout_id));
  }

  std::atomic<bool> stop{false};
  const std::size_t threads = nflog ? 1 : rings.size();
  std::vector<Counters> counters(threads);
  std::vector<std::thread> readers;
  for (std::size_t i = 0; i < threads; ++i) {
    readers.emplace_back([&, i] {
      if (nflog) {
        nflog->run(stop, counters[i]);
      } else {
        rings[i]->run(stop, counters[i]);
      }
    });
  }

  std::uint64_t tp_packets = 0, tp_drops = 0, tp_freeze = 0;  // accumulated (the kernel resets on read)
  auto report = [&](const char* what) {
    std::uint64_t packets = 0, bytes = 0, seq_drops = 0, enobufs = 0;
    for (const Counters& c : counters) {
      packets += c.packets.load(std::memory_order_relaxed);
      bytes += c.bytes.load(std::memory_order_relaxed);
      seq_drops += c.seq_drops.load(std::memory_order_relaxed);
      enobufs += c.enobufs.load(std::memory_order_relaxed);
    }
    std::string line = std::string("nullreader: ") + what + " source=" + mode + " packets=" + std::to_string(packets) +
                       " bytes=" + std::to_string(bytes);
    if (nflog) {
      line += " seq_drops=" + std::to_string(seq_drops) + " enobufs=" + std::to_string(enobufs);
    } else {
      for (const auto& r : rings) {
        const tpacket_stats_v3 st = r->take_stats();
        tp_packets += st.tp_packets;
        tp_drops += st.tp_drops;
        tp_freeze += st.tp_freeze_q_cnt;
      }
      line += " tp_packets=" + std::to_string(tp_packets) + " tp_drops=" + std::to_string(tp_drops) +
              " tp_freeze_q_cnt=" + std::to_string(tp_freeze);
    }
    line += cpu_keys();
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };

  std::printf("nullreader: ready source=%s threads=%zu\n", mode.c_str(), threads);
  std::fflush(stdout);
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      report("snapshot");
      continue;
    }
    break;
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  report("final");
  return 0;
}
