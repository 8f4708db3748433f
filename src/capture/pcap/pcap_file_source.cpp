#include "capture/pcap/pcap_file_source.hpp"

#include <pcap/pcap.h>

#include "common/error.hpp"

namespace netflowd {
namespace {

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

}  // namespace

PcapFileSource::PcapFileSource(const std::string& path) : path_(path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Microsecond timestamps whatever the file stores; flows are timed in microseconds.
  handle_ = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (handle_ == nullptr) throw SetupError("cannot read capture '" + path + "': " + errbuf);
  const int dlt = pcap_datalink(handle_);
  if (!link_type_from_dlt(dlt, link_)) {
    const char* name = pcap_datalink_val_to_name(dlt);
    pcap_close(handle_);
    handle_ = nullptr;
    throw SetupError("capture '" + path + "': link type " + (name ? name : std::to_string(dlt)) +
                     " is not supported (Ethernet, Linux cooked SLL/SLL2 and raw IP are)");
  }
}

PcapFileSource::~PcapFileSource() {
  if (handle_ != nullptr) pcap_close(handle_);
}

NextResult PcapFileSource::next(CapturedFrame& frame) {
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_, &header, &data);
  if (rc == PCAP_ERROR_BREAK) return NextResult::end;
  if (rc != 1) {
    error_ = "capture '" + path_ + "': " + pcap_geterr(handle_);
    return NextResult::error;
  }
  frame.bytes = std::span<const std::uint8_t>(data, header->caplen);
  frame.wire_length = header->len;
  frame.meta = PacketMeta{};
  frame.meta.timestamp = static_cast<TimeUs>(header->ts.tv_sec) * kUsPerSecond + header->ts.tv_usec;
  ++stats_.frames;
  return NextResult::frame;
}

}  // namespace netflowd
