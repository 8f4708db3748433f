// Fuzz target: one datagram from conntrack's event groups (ctnetlink NEW/DESTROY messages), as
// the NAT event reader receives it (natevents=1), then every event it yields through the
// NetFlow v5, v9 and IPFIX encoders.
//
// What must hold, beyond "no crash, no undefined behaviour": every event parsed is counted as
// a create or a destroy and nothing else, and each encoder takes every one.
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "capture/conntrack/nat_event_source.hpp"
#include "export/flow_encoder.hpp"
#include "fuzz_check.hpp"

namespace {

using namespace netflowd;

struct NullSink final : DatagramSink {
  void send(std::span<const std::uint8_t> datagram, const DatagramContents&) override {
    FUZZ_CHECK(!datagram.empty() && datagram.size() <= 1500);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Netlink messages are 4-byte aligned in a receive buffer: so they are here.
  std::vector<std::uint32_t> aligned((size + 3) / 4);
  if (size != 0) std::memcpy(aligned.data(), data, size);
  const std::span<const std::uint8_t> datagram(reinterpret_cast<const std::uint8_t*>(aligned.data()), size);

  const TimeUs now = seconds_to_us(1'700'000'000);
  std::vector<NatEvent> events;
  NatEventCounters counters;
  parse_conntrack_events(datagram, now, events, counters);
  FUZZ_CHECK(counters.creates + counters.destroys == events.size());
  FUZZ_CHECK(counters.overruns == 0);

  NullSink sink;
  for (const int protocol : {5, 9, 10}) {
    ExportConfig c;
    c.protocol = protocol;
    const auto encoder = make_flow_encoder(c, sink);
    for (const NatEvent& e : events) {
      FUZZ_CHECK(e.type == NatEventType::create || e.type == NatEventType::destroy);
      encoder->add_nat_event(e, now);
    }
    encoder->flush(now);
    FUZZ_CHECK(encoder->stats().nat_events == events.size());
  }
  return 0;
}
