#include "capture/pcap/pcap_file_source.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.hpp"

namespace netflowd {
namespace {

// Classic pcap file header magics (as read in host order on a little-endian machine they
// would look swapped; the reader checks both byte orders).
constexpr std::uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr std::uint32_t kMagicNano = 0xa1b23c4d;
constexpr std::size_t kFileHeader = 24;
constexpr std::size_t kBlock = std::size_t{256} << 10;  // bytes per read(): stays in L2 until parsed
using pcap_detail::kMaxRecord;
using pcap_detail::kRecordHeader;
using pcap_detail::load32;

bool link_type_from_dlt(int dlt, LinkType& out) {
  switch (dlt) {
    case DLT_EN10MB: out = LinkType::ethernet; return true;
    case DLT_LINUX_SLL: out = LinkType::linux_sll; return true;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2: out = LinkType::linux_sll2; return true;
#endif
    case DLT_RAW: out = LinkType::raw_ip; return true;
#ifdef DLT_IPV4
    case DLT_IPV4: out = LinkType::ipv4; return true;
#endif
#ifdef DLT_IPV6
    case DLT_IPV6: out = LinkType::ipv6; return true;
#endif
    default: return false;
  }
}

// LINKTYPE_ values as stored in files (they differ from DLT_ values for raw IP).
bool link_type_from_file(std::uint32_t linktype, LinkType& out) {
  switch (linktype) {
    case 1: out = LinkType::ethernet; return true;
    case 113: out = LinkType::linux_sll; return true;
    case 276: out = LinkType::linux_sll2; return true;
    case 101:  // LINKTYPE_RAW
    case 12:   // DLT_RAW as some systems wrote it
    case 14: out = LinkType::raw_ip; return true;
    case 228: out = LinkType::ipv4; return true;
    case 229: out = LinkType::ipv6; return true;
    default: return false;
  }
}

SetupError unsupported_link(const std::string& path, const std::string& what) {
  return SetupError("capture '" + path + "': link type " + what +
                    " is not supported (Ethernet, Linux cooked SLL/SLL2 and raw IP are)");
}

}  // namespace

// Feeds libpcap the bytes the own reader already consumed, then the rest of the descriptor.
struct PcapFileSource::Cookie {
  int fd = -1;
  std::vector<std::uint8_t> prefix;
  std::size_t prefix_pos = 0;

  static ssize_t read(void* self, char* out, std::size_t size) {
    auto& c = *static_cast<Cookie*>(self);
    if (c.prefix_pos < c.prefix.size()) {
      const std::size_t n = std::min(size, c.prefix.size() - c.prefix_pos);
      std::memcpy(out, c.prefix.data() + c.prefix_pos, n);
      c.prefix_pos += n;
      return static_cast<ssize_t>(n);
    }
    for (;;) {
      const ssize_t n = ::read(c.fd, out, size);
      if (n >= 0 || errno != EINTR) return n;
    }
  }
  static int close(void*) { return 0; }  // the descriptor belongs to PcapFileSource
};

PcapFileSource::PcapFileSource(const std::string& path) : path_(path) {
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd_) throw SetupError("cannot read capture '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_.get(), &st) == 0 && S_ISREG(st.st_mode)) {
    ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  buffer_.resize(kBlock);
  if (!fill(kFileHeader)) {
    if (!error_.empty()) throw SetupError(error_);
    open_libpcap();  // too short for a pcap header: libpcap says what is wrong with it
    return;
  }
  const std::uint8_t* h = buffer_.data() + pos_;
  std::uint32_t magic;
  std::memcpy(&magic, h, 4);
  if (magic == kMagicMicro || magic == kMagicNano) {
    swapped_ = false;
  } else if (__builtin_bswap32(magic) == kMagicMicro || __builtin_bswap32(magic) == kMagicNano) {
    swapped_ = true;
    magic = __builtin_bswap32(magic);
  } else {
    open_libpcap();  // pcapng, or not a capture at all
    return;
  }
  nanoseconds_ = magic == kMagicNano;
  snaplen_ = load32(h + 16, swapped_);
  const std::uint32_t linktype = load32(h + 20, swapped_) & 0xffff;  // upper bits: FCS information
  if (!link_type_from_file(linktype, link_)) throw unsupported_link(path, std::to_string(linktype));
  pos_ += kFileHeader;
}

PcapFileSource::~PcapFileSource() {
  if (handle_ != nullptr) pcap_close(handle_);
}

void PcapFileSource::open_libpcap() {
  cookie_ = std::make_unique<Cookie>();
  cookie_->fd = fd_.get();
  cookie_->prefix.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(pos_),
                         buffer_.begin() + static_cast<std::ptrdiff_t>(end_));
  buffer_.clear();
  buffer_.shrink_to_fit();
  cookie_io_functions_t io{};
  io.read = &Cookie::read;
  io.close = &Cookie::close;
  FILE* stream = fopencookie(cookie_.get(), "r", io);
  if (stream == nullptr) throw SetupError("cannot read capture '" + path_ + "': " + std::strerror(errno));
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Microsecond timestamps whatever the file stores; flows are timed in microseconds.
  handle_ = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (handle_ == nullptr) {
    std::fclose(stream);
    throw SetupError("cannot read capture '" + path_ + "': " + errbuf);
  }
  const int dlt = pcap_datalink(handle_);
  if (!link_type_from_dlt(dlt, link_)) {
    const char* name = pcap_datalink_val_to_name(dlt);
    pcap_close(handle_);
    handle_ = nullptr;
    throw unsupported_link(path_, name != nullptr ? name : std::to_string(dlt));
  }
}

bool PcapFileSource::fill(std::size_t want) {
  if (end_ - pos_ >= want) return true;
  if (pos_ != 0) {
    std::memmove(buffer_.data(), buffer_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (want > buffer_.size()) buffer_.resize(want);
  while (end_ < want && !eof_) {
    const ssize_t n = ::read(fd_.get(), buffer_.data() + end_, buffer_.size() - end_);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = "capture '" + path_ + "': read failed: " + std::strerror(errno);
      return false;
    }
    if (n == 0) eof_ = true;
    end_ += static_cast<std::size_t>(n);
  }
  return end_ - pos_ >= want;
}

NextResult PcapFileSource::next_slow(CapturedFrame& frame) {
  return handle_ != nullptr ? next_libpcap(frame) : next_classic(frame);
}

NextResult PcapFileSource::next_classic(CapturedFrame& frame) {
  if (!fill(kRecordHeader)) {
    if (!error_.empty()) return NextResult::error;
    if (end_ == pos_) return NextResult::end;
    error_ = "capture '" + path_ + "': truncated record header at the end of the file";
    return NextResult::error;
  }
  const std::uint32_t caplen = load32(buffer_.data() + pos_ + 8, swapped_);
  if (caplen > kMaxRecord) {
    error_ = "capture '" + path_ + "': record of " + std::to_string(caplen) + " captured bytes after frame " +
             std::to_string(stats_.frames) + ": the file is corrupt";
    return NextResult::error;
  }
  if (!fill(kRecordHeader + caplen)) {
    if (error_.empty()) {
      error_ = "capture '" + path_ + "': truncated record at the end of the file (" +
               std::to_string(end_ - pos_ - kRecordHeader) + " of " + std::to_string(caplen) + " bytes)";
    }
    return NextResult::error;
  }
  take_record(frame, buffer_.data() + pos_, caplen);  // fill() may have moved the buffer
  return NextResult::frame;
}

NextResult PcapFileSource::next_libpcap(CapturedFrame& frame) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == PCAP_ERROR_BREAK) return NextResult::end;
  if (rc != 1) {
    error_ = "capture '" + path_ + "': " + pcap_geterr(handle_);
    return NextResult::error;
  }
  // pcapng keeps 64-bit timestamps; classic pcap's 32-bit seconds end in 2106. A time past
  // the year 9999 (kLastSecond) is a corrupt block.
  if (header->ts.tv_sec < 0 || header->ts.tv_sec > kLastSecond) {
    error_ = "capture '" + path_ + "': frame " + std::to_string(stats_.frames + 1) +
             " has a timestamp beyond the year 9999 (" + std::to_string(header->ts.tv_sec) + " s); corrupt file?";
    return NextResult::error;
  }
  frame.bytes = std::span<const std::uint8_t>(data, header->caplen);
  frame.wire_length = header->len;
  frame.meta.reset(static_cast<TimeUs>(header->ts.tv_sec) * kUsPerSecond + header->ts.tv_usec);
  ++stats_.frames;
  return NextResult::frame;
}

}  // namespace netflowd
