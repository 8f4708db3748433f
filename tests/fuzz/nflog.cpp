// Fuzz target: one NFLOG batch (what one recv() on the NFLOG socket returns: netlink messages
// of nfnetlink_log packets with their attributes), read as NflogSource reads it, and every
// packet it yields through the parser and the fast path as a worker meters it (raw IP, the
// wire length not known: UINT32_MAX, as NFLOG copies only the start of a packet).
//
// What must hold, beyond "no crash, no undefined behaviour":
// - the reader counts every packet it yields (frames) and nothing else, and each packet's
//   bytes lie inside the batch;
// - the fast path takes only packets the general parser meters and then gives exactly the
//   MeterInput the general path gives, with the capture facts NFLOG carries (interfaces,
//   direction, MAC header, stripped VLAN tag).
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "capture/nflog/nflog_source.hpp"
#include "flow/fast_input.hpp"
#include "flow/flow_cache.hpp"
#include "fuzz_check.hpp"
#include "packet/apply_meta.hpp"
#include "packet/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netflowd;
  // A receive buffer is 4-byte aligned, and so are the netlink messages in it.
  std::vector<std::uint32_t> aligned((size + 3) / 4);
  if (size != 0) std::memcpy(aligned.data(), data, size);
  const auto* batch = reinterpret_cast<const std::uint8_t*>(aligned.data());

  NflogBatchReader reader;
  CaptureStats stats;
  reader.start(batch, size);
  CapturedFrame frame;
  std::uint64_t yielded = 0;
  const FlowKeyOptions options;  // the default key: the one the fast path serves
  while (reader.next(frame, stats)) {
    ++yielded;
    FUZZ_CHECK(frame.bytes.empty() ||
               (frame.bytes.data() >= batch && frame.bytes.data() + frame.bytes.size() <= batch + size));
    ParsedPacket packet;
    const ParseStatus status = parse_packet(LinkType::raw_ip, frame.bytes, frame.wire_length, packet);
    MeterInput general;
    std::memset(static_cast<void*>(&general), 0x5a, sizeof general);
    if (status == ParseStatus::ok) {
      apply_capture_meta(frame.meta, packet);
      make_meter_input(packet, frame.meta, options, general);
    }
    MeterInput fast;
    std::memset(static_cast<void*>(&fast), 0xa5, sizeof fast);
    if (fast_meter_input(LinkType::raw_ip, frame.bytes, frame.wire_length, frame.meta, fast)) {
      FUZZ_CHECK(status == ParseStatus::ok);
      FUZZ_CHECK(std::memcmp(&fast, &general, sizeof fast) == 0);
    }
  }
  FUZZ_CHECK(stats.frames == yielded);
  FUZZ_CHECK(stats.overruns == 0);
  return 0;
}
