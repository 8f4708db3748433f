// Fuzz target: a capture file for `netflowd --read`, metered and exported from start to end.
//
// Input: 1 byte of set-up, then the file. Bits of the set-up byte: 0-1 export protocol (v5,
// v9, IPFIX, IPFIX), 2 MAC addresses and 3 MPLS labels as key fields with every optional
// field exported, 3 aggregation rules, 4 maxflows=4 (packets of new flows beyond it dropped),
// 5 hash sampling 1 in 2, 6 active and inactive timeouts of 1 s, 7 the smallest v9/IPFIX
// messages (payload_size=512) with templates in every one (refresh_rate=1).
//
// What must hold, beyond "no crash, no undefined behaviour":
// - a file netflowd cannot read is refused with SetupError, never anything else;
// - the run's numbers add up (pipeline/run_summary.hpp): every frame read was metered,
//   skipped with its parse status, dropped beyond maxflows or not selected by the sampler;
//   every packet metered is in a flow record the encoder took (or counted as not exportable,
//   IPv6 in v5), and every record it encoded reached the sink.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "capture/pcap/pcap_file_source.hpp"
#include "common/error.hpp"
#include "control/parameters.hpp"
#include "fuzz_check.hpp"
#include "pipeline/offline_runner.hpp"

namespace {

using namespace netflowd;

struct CountingSink final : DatagramSink {
  ExportTotals sent;
  void send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) override {
    FUZZ_CHECK(!datagram.empty() && datagram.size() <= 1500);
    ++sent.datagrams;
    ++sent.delivered;
    sent.delivered_bytes += datagram.size();
    sent.flow_records += contents.flow_records;
  }
  ExportTotals totals() const override { return sent; }
};

Config config_of(std::uint8_t setup) {
  Config c;
  static const char* const kProtocols[] = {"protocol=5", "protocol=9", "protocol=10", "protocol=10"};
  apply_parameter(c, kProtocols[setup & 3]);
  apply_parameter(c, "export_rate=0");
  apply_parameter(c, "hashsize=256");  // a small index that grows (the automatic size would be zeroed per input)
  if ((setup & 0x04) != 0 && (setup & 3) != 0) {
    for (const char* p : {"macaddress=1", "vlan=1", "direction=1", "mpls_depth=3"}) apply_parameter(c, p);
  }
  if ((setup & 0x08) != 0) apply_parameter(c, "aggregation=10.0.0.0/8=16 0.0.0.0/0=8 1024-65535=1024 53=5353");
  if ((setup & 0x10) != 0) apply_parameter(c, "maxflows=4");
  if ((setup & 0x20) != 0) apply_parameter(c, "sampler=hash:2");
  if ((setup & 0x40) != 0) {
    apply_parameter(c, "active_timeout=1");
    apply_parameter(c, "inactive_timeout=1");
  }
  if ((setup & 0x80) != 0) {
    apply_parameter(c, "payload_size=512");
    apply_parameter(c, "refresh_rate=1");
  }
  return c;
}

// The file lives in memory, under a path the reader opens like any other.
class MemoryFile {
 public:
  MemoryFile(const std::uint8_t* data, std::size_t size) : fd_(::memfd_create("fuzz.pcap", 0)) {
    FUZZ_CHECK(fd_ >= 0);
    for (std::size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      FUZZ_CHECK(n > 0);
      done += static_cast<std::size_t>(n);
    }
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const Config config = config_of(data[0]);
  const MemoryFile file(data + 1, size - 1);
  std::unique_ptr<PcapFileSource> source;
  try {
    source = std::make_unique<PcapFileSource>(file.path());
  } catch (const SetupError&) {
    return 0;  // not a capture netflowd reads: refused with the reason
  }
  CountingSink sink;
  const RunSummary s = run_offline(*source, config, sink);

  FUZZ_CHECK(s.frames == source->stats().frames);
  FUZZ_CHECK(s.frames == s.cache.packets + s.parse.skipped() + s.cache.maxflows_dropped_packets +
                             s.cache.alloc_dropped_packets + s.sampled_out);
  FUZZ_CHECK(s.cache.packets == s.encoder.packets + s.encoder.not_exportable_packets);
  FUZZ_CHECK(s.cache.bytes == s.encoder.bytes + s.encoder.not_exportable_bytes);
  FUZZ_CHECK(sink.sent.flow_records == s.encoder.records);
  FUZZ_CHECK(sink.sent.datagrams == s.encoder.datagrams);
  return 0;
}
