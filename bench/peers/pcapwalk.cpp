// pcapwalk: the "ceiling" of the peer benchmark (bench/peers/run.sh) and its flow counter.
//
// It shares no code with src/ on purpose: it is the least work any offline meter must do on a
// capture, so that netflowd's throughput can be stated as a fraction of it.
//
//   pcapwalk touch FILE           read() the classic pcap file in 256 KiB blocks, walk every record
//                                 and read the link and IP header bytes of every packet (no flow
//                                 state): the touch-only ceiling
//   pcapwalk touch-mmap FILE      same through mmap (page faults instead of copies)
//   pcapwalk touch-libpcap FILE   same through libpcap's pcap_next_ex (what netflowd reads with)
//   pcapwalk hash FILE            touch + a 5-tuple key and one update of a plain open-addressing
//                                 hash table (packets, bytes, last seen) per packet
//   pcapwalk active FILE SECONDS  hash + the peak number of flows seen within the last SECONDS
//                                 (what a meter with that inactive timeout holds at most; no
//                                 active timeout), and the number of distinct keys
//
// Output: one line of key=value pairs on stdout (packets, ip, checksum, ...).
// Build: g++ -O3 -std=c++20 pcapwalk.cpp -lpcap (run.sh does it).
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "pcapwalk: %s\n", what.c_str());
  std::exit(1);
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// The flow key: family, addresses, ports, protocol, TOS (VLANs are not part of it).
struct Key {
  std::uint8_t src[16];
  std::uint8_t dst[16];
  std::uint16_t sport;
  std::uint16_t dport;
  std::uint8_t proto;
  std::uint8_t tos;
  std::uint8_t family;
  std::uint8_t pad;
};
static_assert(sizeof(Key) == 40);

struct Parsed {
  Key key;
  std::uint32_t ip_bytes;
};

// Ethernet (+ up to two 802.1Q / 802.1ad tags), IPv4 or IPv6 (no extension-header walk), ports of
// TCP, UDP, SCTP, UDP-Lite when the packet is not a non-first fragment. false: not IP.
bool parse(const std::uint8_t* p, std::uint32_t len, Parsed& out) {
  if (len < 14) return false;
  std::uint32_t off = 12;
  std::uint16_t type = be16(p + off);
  for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; ++tags) {
    off += 4;
    if (len < off + 2) return false;
    type = be16(p + off);
  }
  off += 2;
  std::memset(&out.key, 0, sizeof(out.key));
  const std::uint8_t* ip = p + off;
  const std::uint32_t avail = len - off;
  std::uint32_t l4 = 0;
  bool ports = false;
  if (type == 0x0800) {
    if (avail < 20 || (ip[0] >> 4) != 4) return false;
    const std::uint32_t ihl = (ip[0] & 15u) * 4;
    out.key.family = 4;
    out.key.tos = ip[1];
    out.key.proto = ip[9];
    std::memcpy(out.key.src, ip + 12, 4);
    std::memcpy(out.key.dst, ip + 16, 4);
    out.ip_bytes = be16(ip + 2);
    ports = (be16(ip + 6) & 0x1fff) == 0;
    l4 = ihl;
  } else if (type == 0x86dd) {
    if (avail < 40 || (ip[0] >> 4) != 6) return false;
    out.key.family = 6;
    out.key.tos = static_cast<std::uint8_t>((ip[0] << 4) | (ip[1] >> 4));
    out.key.proto = ip[6];
    std::memcpy(out.key.src, ip + 8, 16);
    std::memcpy(out.key.dst, ip + 24, 16);
    out.ip_bytes = be16(ip + 4) + 40u;
    ports = true;
    l4 = 40;
  } else {
    return false;
  }
  const std::uint8_t pr = out.key.proto;
  if (ports && (pr == 6 || pr == 17 || pr == 132 || pr == 136) && avail >= l4 + 4) {
    out.key.sport = be16(ip + l4);
    out.key.dport = be16(ip + l4 + 2);
  }
  return true;
}

std::uint64_t hash_key(const Key& k) {
  std::uint64_t w[5];
  std::memcpy(w, &k, sizeof(w));
  std::uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (std::uint64_t x : w) {
    h ^= x;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
  }
  return h;
}

// Plain open addressing with linear probing; doubles at 50 % load.
class Table {
 public:
  struct Entry {
    Key key;
    std::uint64_t packets;
    std::uint64_t bytes;
    std::uint32_t last_s;
    std::uint32_t used;
  };

  Table() : slots_(1u << 16) {}

  // Returns the entry and whether it was created.
  Entry& update(const Key& k, bool& created) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    Entry& e = find(slots_, k, hash_key(k));
    created = e.used == 0;
    if (created) {
      e.key = k;
      e.used = 1;
      ++size_;
    }
    return e;
  }
  std::size_t size() const { return size_; }

 private:
  static Entry& find(std::vector<Entry>& slots, const Key& k, std::uint64_t h) {
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      Entry& e = slots[i];
      if (e.used == 0 || std::memcmp(&e.key, &k, sizeof(Key)) == 0) return e;
    }
  }
  void grow() {
    std::vector<Entry> bigger(slots_.size() * 2);
    for (Entry& e : slots_)
      if (e.used != 0) find(bigger, e.key, hash_key(e.key)) = e;
    slots_.swap(bigger);
  }
  std::vector<Entry> slots_;
  std::size_t size_ = 0;
};

// Peak of the number of keys whose last packet is at most `window` seconds old (one-second
// resolution): a histogram of last-seen seconds and a running sum over the window.
class ActiveCounter {
 public:
  explicit ActiveCounter(std::uint32_t window) : window_(window == 0 ? 1 : window) {}
  void packet(std::uint32_t now_s, bool created, std::uint32_t previous_s) {
    if (!started_) {
      base_ = now_s;
      cur_ = 0;
      started_ = true;
    }
    const std::uint32_t t = now_s < base_ ? 0 : now_s - base_;
    while (cur_ < t) advance();
    if (count_.size() <= cur_) count_.resize(cur_ + 1, 0);
    if (!created) {
      const std::uint32_t prev = previous_s < base_ ? 0 : previous_s - base_;
      --count_[prev];
      if (prev + window_ <= cur_) ++in_window_;  // had expired: active again
    } else {
      ++in_window_;
    }
    ++count_[cur_];
    if (in_window_ > static_cast<std::int64_t>(peak_)) peak_ = static_cast<std::uint64_t>(in_window_);
  }
  std::uint64_t peak() const { return peak_; }

 private:
  void advance() {
    ++cur_;
    if (count_.size() <= cur_) count_.resize(cur_ + 1, 0);
    if (cur_ >= window_) in_window_ -= count_[cur_ - window_];  // last seen exactly window_ ago
  }
  std::uint32_t window_;
  std::uint32_t base_ = 0;
  std::uint32_t cur_ = 0;
  bool started_ = false;
  std::vector<std::int64_t> count_;
  std::int64_t in_window_ = 0;
  std::uint64_t peak_ = 0;
};

struct Totals {
  std::uint64_t packets = 0;
  std::uint64_t ip = 0;
  std::uint64_t ip_bytes = 0;
  std::uint64_t checksum = 0;
};

enum class Mode { touch, hash, active };

struct Walker {
  Mode mode;
  Table table;
  ActiveCounter active{15};
  Totals t;

  void packet(std::uint32_t ts_s, const std::uint8_t* data, std::uint32_t caplen) {
    ++t.packets;
    if (mode == Mode::touch) {
      // Touch the link and IP header: EtherType, the first bytes of the network header.
      if (caplen >= 24) {
        t.checksum += be16(data + 12) + data[14] + data[23];
        t.ip += (data[12] == 0x08 || data[12] == 0x86 || data[12] == 0x81 || data[12] == 0x88);
      }
      return;
    }
    Parsed p;
    if (!parse(data, caplen, p)) return;
    ++t.ip;
    t.ip_bytes += p.ip_bytes;
    bool created = false;
    Table::Entry& e = table.update(p.key, created);
    const std::uint32_t previous = e.last_s;
    e.packets += 1;
    e.bytes += p.ip_bytes;
    e.last_s = ts_s;
    if (mode == Mode::active) active.packet(ts_s, created, previous);
  }
};

bool little_endian_magic(std::uint32_t magic, bool& swapped) {
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) return swapped = false, true;
  if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) return swapped = true, true;
  return false;
}

std::uint32_t get32(const std::uint8_t* p, bool swapped) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return swapped ? __builtin_bswap32(v) : v;
}

void walk_mmap(const char* path, Walker& w) {
  const int fd = ::open(path, O_RDONLY);
  if (fd < 0) die(std::string("cannot open ") + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) die("fstat");
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  if (size < 24) die("not a pcap file");
  auto* base = static_cast<const std::uint8_t*>(::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0));
  if (base == MAP_FAILED) die("mmap");
  ::madvise(const_cast<std::uint8_t*>(base), size, MADV_SEQUENTIAL);
  bool swapped = false;
  if (!little_endian_magic(get32(base, false), swapped)) die("not a classic pcap file (pcapng?)");
  std::size_t off = 24;
  while (off + 16 <= size) {
    const std::uint32_t ts = get32(base + off, swapped);
    const std::uint32_t caplen = get32(base + off + 8, swapped);
    off += 16;
    if (off + caplen > size) break;
    w.packet(ts, base + off, caplen);
    off += caplen;
  }
  ::munmap(const_cast<std::uint8_t*>(base), size);
  ::close(fd);
}

void walk_read(const char* path, Walker& w) {
  const int fd = ::open(path, O_RDONLY);
  if (fd < 0) die(std::string("cannot open ") + path);
  std::vector<std::uint8_t> buf(256u << 10);  // as netflowd: blocks that stay in L2 until walked
  std::size_t have = 0;
  std::size_t pos = 0;
  bool header = true;
  bool swapped = false;
  for (;;) {
    if (pos > 0) {  // keep the unconsumed tail at the front
      std::memmove(buf.data(), buf.data() + pos, have - pos);
      have -= pos;
      pos = 0;
    }
    const ssize_t n = ::read(fd, buf.data() + have, buf.size() - have);
    if (n < 0) die("read");
    const bool eof = n == 0;
    have += static_cast<std::size_t>(n);
    if (header) {
      if (have < 24) {
        if (eof) die("not a pcap file");
        continue;
      }
      if (!little_endian_magic(get32(buf.data(), false), swapped)) die("not a classic pcap file (pcapng?)");
      pos = 24;
      header = false;
    }
    while (pos + 16 <= have) {
      const std::uint32_t caplen = get32(buf.data() + pos + 8, swapped);
      if (caplen + 16 > buf.size()) die("record larger than the buffer");
      if (pos + 16 + caplen > have) break;
      w.packet(get32(buf.data() + pos, swapped), buf.data() + pos + 16, caplen);
      pos += 16 + caplen;
    }
    if (eof) break;
  }
  ::close(fd);
}

void walk_libpcap(const char* path, Walker& w) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* h = pcap_open_offline(path, err);
  if (h == nullptr) die(err);
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(h, &hdr, &data) == 1) w.packet(static_cast<std::uint32_t>(hdr->ts.tv_sec), data, hdr->caplen);
  pcap_close(h);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: pcapwalk touch|touch-mmap|touch-libpcap|hash|active FILE [SECONDS]\n");
    return 2;
  }
  const std::string_view cmd = argv[1];
  Walker w{};
  if (cmd == "touch" || cmd == "touch-mmap" || cmd == "touch-libpcap") {
    w.mode = Mode::touch;
  } else if (cmd == "hash") {
    w.mode = Mode::hash;
  } else if (cmd == "active") {
    if (argc < 4) die("active needs SECONDS");
    w.mode = Mode::active;
    w.active = ActiveCounter(static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10)));
  } else {
    die("unknown mode " + std::string(cmd));
  }
  if (cmd == "touch-mmap")
    walk_mmap(argv[2], w);
  else if (cmd == "touch-libpcap")
    walk_libpcap(argv[2], w);
  else
    walk_read(argv[2], w);
  std::printf("packets=%llu ip=%llu ip_bytes=%llu checksum=%llu", static_cast<unsigned long long>(w.t.packets),
              static_cast<unsigned long long>(w.t.ip), static_cast<unsigned long long>(w.t.ip_bytes),
              static_cast<unsigned long long>(w.t.checksum));
  if (w.mode != Mode::touch) std::printf(" keys=%zu", w.table.size());
  if (w.mode == Mode::active) std::printf(" peak_active=%llu", static_cast<unsigned long long>(w.active.peak()));
  std::printf("\n");
  return 0;
}
