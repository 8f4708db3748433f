// synth: the two captures of the peer benchmark (bench/peers/run.sh) that nfgen cannot make.
//
//   synth flood --out FILE --packets N [--pps R (100000)] [--seed S]
//       A TCP SYN flood: every packet is a SYN (40-byte IPv4 datagram, 60-byte Ethernet frame)
//       from a new source address (a bijective scramble of the packet number, so no source
//       repeats and addresses look random), random source port, to 192.0.2.10:80. Every packet
//       starts a new flow. Packets are R per second apart.
//
//   synth flows --out FILE --packets N --flows K [--seconds D (60)] [--seed S]
//       Exactly K concurrent flows: the first K packets open flows 0..K-1 (in a scrambled
//       order), every later packet belongs to a uniformly random one of them. IPv4 UDP,
//       60-byte frames (46-byte datagrams), timestamps spread evenly over D seconds, so a
//       meter whose inactive timeout exceeds D holds all K flows from packet K to the end.
//
// Classic pcap, Ethernet, microsecond timestamps starting at 1700000000. Output on stdout:
// packets=N flows=F ip_bytes=B (the exact totals a meter must report).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "synth: %s\nusage: synth flood --out FILE --packets N [--pps R] [--seed S]\n"
               "       synth flows --out FILE --packets N --flows K [--seconds D] [--seed S]\n",
               why);
  std::exit(2);
}

struct SplitMix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>((next() >> 32) * n >> 32); }
};

// A bijection of 32-bit integers (xorshift-multiply rounds, each invertible).
std::uint32_t scramble(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

class Writer {
 public:
  explicit Writer(const std::string& path) : f_(std::fopen(path.c_str(), "wb")) {
    if (f_ == nullptr) usage(("cannot create " + path).c_str());
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 22);
    const std::uint32_t hdr[6] = {0xa1b2c3d4U, 0x00040002U, 0, 0, 65535, 1};  // v2.4, DLT_EN10MB
    std::fwrite(hdr, sizeof(hdr), 1, f_);
  }
  ~Writer() {
    if (std::fclose(f_) != 0) std::perror("synth: close");
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void write(std::uint64_t ts_us, const std::uint8_t* frame, std::uint32_t len) {
    const std::uint32_t rec[4] = {static_cast<std::uint32_t>(ts_us / 1000000),
                                  static_cast<std::uint32_t>(ts_us % 1000000), len, len};
    std::fwrite(rec, sizeof(rec), 1, f_);
    std::fwrite(frame, len, 1, f_);
  }

 private:
  std::FILE* f_;
};

void put16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v & 0xffff);
}

std::uint16_t ip_checksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// 60-byte Ethernet frame with an IPv4 header of total length ip_len (<= 46) and protocol proto.
void ipv4_frame(std::uint8_t* f, std::uint32_t src, std::uint32_t dst, std::uint8_t proto, std::uint16_t ip_len,
                std::uint16_t id) {
  std::memset(f, 0, 60);
  const std::uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(f, dmac, 6);
  std::memcpy(f + 6, smac, 6);
  put16(f + 12, 0x0800);
  std::uint8_t* ip = f + 14;
  ip[0] = 0x45;
  put16(ip + 2, ip_len);
  put16(ip + 4, id);
  ip[8] = 64;
  ip[9] = proto;
  put32(ip + 12, src);
  put32(ip + 16, dst);
  put16(ip + 10, ip_checksum(ip, 20));
}

std::uint64_t arg_u64(int& i, int argc, char** argv) {
  if (i + 1 >= argc) usage("missing value");
  char* end = nullptr;
  const std::uint64_t v = std::strtoull(argv[++i], &end, 10);
  if (end == nullptr || *end != '\0') usage("bad number");
  return v;
}

constexpr std::uint64_t start_us = 1700000000ULL * 1000000;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("no mode");
  const std::string_view mode = argv[1];
  std::string out;
  std::uint64_t packets = 0, pps = 100000, flows = 0, seconds = 60, seed = 1;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--out" && i + 1 < argc)
      out = argv[++i];
    else if (a == "--packets")
      packets = arg_u64(i, argc, argv);
    else if (a == "--pps")
      pps = arg_u64(i, argc, argv);
    else if (a == "--flows")
      flows = arg_u64(i, argc, argv);
    else if (a == "--seconds")
      seconds = arg_u64(i, argc, argv);
    else if (a == "--seed")
      seed = arg_u64(i, argc, argv);
    else
      usage(("unknown argument " + std::string(a)).c_str());
  }
  if (out.empty() || packets == 0) usage("--out and --packets are required");
  SplitMix rng{seed};
  Writer w(out);
  std::uint8_t f[60];
  std::uint64_t ip_bytes = 0, nflows = 0;

  if (mode == "flood") {
    if (pps == 0 || packets > 0xffffffffULL) usage("bad --pps or --packets");
    const std::uint32_t dst = 0xC000020AU;  // 192.0.2.10
    for (std::uint64_t i = 0; i < packets; ++i) {
      std::uint32_t src = scramble(static_cast<std::uint32_t>(i) ^ static_cast<std::uint32_t>(seed * 0x9e3779b9U));
      ipv4_frame(f, src, dst, 6, 40, static_cast<std::uint16_t>(i));
      std::uint8_t* tcp = f + 34;
      put16(tcp, 1024 + rng.below(64511));
      put16(tcp + 2, 80);
      put32(tcp + 4, static_cast<std::uint32_t>(rng.next()));
      tcp[12] = 5 << 4;
      tcp[13] = 0x02;  // SYN
      put16(tcp + 14, 64240);
      w.write(start_us + i * 1000000 / pps, f, 60);
      ip_bytes += 40;
    }
    nflows = packets;
  } else if (mode == "flows") {
    if (flows == 0 || flows > packets || flows > 0xffffffffULL) usage("need 0 < --flows <= --packets");
    const std::uint64_t span_us = seconds * 1000000;
    auto frame_of = [&](std::uint32_t flow) {
      // Addresses and ports from a scramble of the flow number: distinct keys, random-looking.
      const std::uint32_t h = scramble(flow ^ 0x5bd1e995U);
      const std::uint32_t src = 0x0A000000U | (h & 0x00ffffffU);  // 10.x.y.z
      const std::uint32_t dst = 0xC6120000U | (flow >> 15);       // 198.18.0.0/15: the high 17 bits
      ipv4_frame(f, src, dst, 17, 46, static_cast<std::uint16_t>(flow));
      std::uint8_t* udp = f + 34;
      put16(udp, 1024 + (flow & 0x7fffu));  // the low 15 bits: (dst, sport) is unique per flow
      put16(udp + 2, 2000 + (h >> 24));
      put16(udp + 4, 26);
    };
    for (std::uint64_t i = 0; i < packets; ++i) {
      const std::uint32_t flow =
          i < flows ? static_cast<std::uint32_t>(i) : rng.below(static_cast<std::uint32_t>(flows));
      frame_of(flow);
      w.write(start_us + i * span_us / packets, f, 60);
      ip_bytes += 46;
    }
    nflows = flows;
  } else {
    usage("unknown mode");
  }
  std::printf("packets=%llu flows=%llu ip_bytes=%llu\n", static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(nflows), static_cast<unsigned long long>(ip_bytes));
  return 0;
}
