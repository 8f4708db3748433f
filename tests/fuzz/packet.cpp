// Fuzz target: one frame through everything a packet from the network reaches.
//
// Input: 6 bytes of set-up, then the frame (the frame ends where the input ends, so that
// AddressSanitizer sees any read past it).
//   byte 0     link type (LinkType, modulo its count)
//   byte 1     bit 0: the packet goes to the cache with MAC addresses and 3 MPLS labels as key
//              fields; bit 1: aggregation rules; bit 2: a VLAN tag stripped before capture;
//              bit 3: MAC addresses from the capture; bit 4: the frame's wire length is longer
//              than its captured bytes by bytes 2-3
//   bytes 2-5  wire-length excess (bytes 2-3), the time step (bytes 4-5, in milliseconds)
//
// What must hold, beyond "no crash, no undefined behaviour":
// - fast_meter_input() takes only frames the general parser meters, and then gives exactly
//   the MeterInput the general path gives (tests/unit/flow/fast_input_test.cpp checks the
//   same on generated frames);
// - every packet metered comes out again: the cache's records, once flushed, carry exactly
//   the packets and bytes metered, and each encoder (NetFlow v5, v9, IPFIX, every optional
//   field on) accounts for all of them, in datagrams or as not exportable (IPv6 in v5).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "export/flow_encoder.hpp"
#include "flow/aggregation.hpp"
#include "flow/fast_input.hpp"
#include "flow/flow_cache.hpp"
#include "fuzz_check.hpp"
#include "packet/apply_meta.hpp"
#include "packet/parser.hpp"

namespace {

using namespace netflowd;

constexpr std::size_t kSetup = 6;
constexpr std::size_t kLinkTypes = 6;
constexpr std::size_t kFlushEvery = 64;  // flows a cache holds before it is flushed and encoded

struct CountingSink final : DatagramSink {
  std::size_t max_payload;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  explicit CountingSink(std::size_t max) : max_payload(max) {}
  void send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) override {
    FUZZ_CHECK(!datagram.empty() && datagram.size() <= max_payload);
    packets += contents.packets;
    bytes += contents.bytes;
    records += contents.flow_records;
  }
};

struct Exporter {
  std::unique_ptr<CountingSink> sink;
  std::unique_ptr<FlowEncoder> encoder;
};

Exporter make_exporter(int protocol) {
  ExportConfig c;
  c.protocol = protocol;
  c.features.mac = c.features.vlan = c.features.direction = c.features.physdev = true;
  c.features.mpls_depth = 3;
  c.features.sampler_id = 1;
  // v5: a 24-byte header and 30 records of 48 bytes; v9/IPFIX: the header and payload_size.
  Exporter e{std::make_unique<CountingSink>(protocol == 5 ? 24 + 30 * 48 : 20 + c.payload_size), nullptr};
  e.encoder = make_flow_encoder(c, *e.sink);
  return e;
}

// One cache per key layout: key options cannot change while a cache holds flows.
struct Meter {
  FlowCache cache;
  std::vector<FlowRecord> ended;
  std::uint64_t packets_in = 0;  // metered into the cache
  std::uint64_t bytes_in = 0;
  std::uint64_t packets_out = 0;  // in records that left it
  std::uint64_t bytes_out = 0;
  explicit Meter(const FlowCacheConfig& config) : cache(config) {}
};

FlowCacheConfig cache_config(bool wide) {
  FlowCacheConfig c;
  c.hashsize = 64;  // small, so that the index grows and wraps often
  c.maxflows = 0;
  c.active_timeout = seconds_to_us(60);
  c.inactive_timeout = seconds_to_us(15);
  c.number_flows = true;
  c.keep_physdev = wide;
  if (wide) {
    c.key_options.mac = true;
    c.key_options.mpls_labels = 3;
  }
  return c;
}

struct State {
  Meter narrow{cache_config(false)};
  Meter wide{cache_config(true)};
  std::vector<Exporter> exporters;
  AggregationRules rules = AggregationRules::parse("10.0.0.0/8=16 192.168.0.0/16=24 1024-65535=1024 53=5353");
  std::vector<std::uint64_t> usage = std::vector<std::uint64_t>(rules.size());
  TimeUs clock = seconds_to_us(1'700'000'000);
  std::uint64_t handed_packets = 0;  // in the records handed to each encoder
  std::uint64_t handed_bytes = 0;
  State() {
    for (const int protocol : {5, 9, 10}) exporters.push_back(make_exporter(protocol));
  }
};

// Hands the ended flows to every encoder and checks that each accounts for all of them.
void export_ended(State& s, Meter& m) {
  for (const FlowRecord& r : m.ended) {
    m.packets_out += r.packets;
    m.bytes_out += r.bytes;
    s.handed_packets += r.packets;
    s.handed_bytes += r.bytes;
    for (Exporter& e : s.exporters) e.encoder->add(r, s.clock);
  }
  m.ended.clear();
  for (Exporter& e : s.exporters) {
    e.encoder->flush(s.clock);
    const EncoderStats& st = e.encoder->stats();
    FUZZ_CHECK(st.packets + st.not_exportable_packets == s.handed_packets);
    FUZZ_CHECK(st.bytes + st.not_exportable_bytes == s.handed_bytes);
    FUZZ_CHECK(e.sink->packets == st.packets && e.sink->bytes == st.bytes && e.sink->records == st.records);
  }
}

void meter(State& s, Meter& m, const MeterInput& in) {
  if (m.cache.meter(in, m.ended) == MeterResult::metered) {
    m.packets_in += 1;
    m.bytes_in += in.ip_length;
  }
  if (m.cache.size() >= kFlushEvery) {
    m.cache.expire(s.clock, m.ended);
    m.cache.flush(m.ended);
  }
  if (!m.ended.empty()) export_ended(s, m);
  if (m.cache.size() == 0) {
    // Everything metered has come out again, in records.
    FUZZ_CHECK(m.packets_in == m.packets_out && m.bytes_in == m.bytes_out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static State* state = new State;  // lives for the whole run, as a worker's cache does
  State& s = *state;
  if (size < kSetup) return 0;
  const auto link = static_cast<LinkType>(data[0] % kLinkTypes);
  const std::uint8_t flags = data[1];
  const std::uint32_t excess = (flags & 0x10) != 0 ? (std::uint32_t{data[2]} << 8 | data[3]) : 0;
  s.clock += (std::uint32_t{data[4]} << 8 | data[5]) * TimeUs{1000};
  const std::span<const std::uint8_t> frame(data + kSetup, size - kSetup);
  const auto wire = static_cast<std::uint32_t>(frame.size()) + excess;

  PacketMeta meta;
  meta.reset(s.clock);
  meta.in_ifindex = 2;
  meta.out_ifindex = 3;
  if ((flags & 0x04) != 0) {
    meta.has_stripped_vlan = true;
    meta.stripped_vlan_tci = static_cast<std::uint16_t>(data[2] << 8 | data[3]);
  }
  if ((flags & 0x08) != 0) {
    meta.has_mac = true;
    meta.src_mac = {2, 0, 0, 0, 0, 1};
    meta.dst_mac = {2, 0, 0, 0, 0, 2};
  }
  const bool wide = (flags & 0x01) != 0;
  const bool aggregate = (flags & 0x02) != 0;
  Meter& m = wide ? s.wide : s.narrow;

  ParsedPacket packet;
  const ParseStatus status = parse_packet(link, frame, wire, packet);
  MeterInput general;
  std::memset(static_cast<void*>(&general), 0x5a, sizeof general);  // every byte must be written
  if (status == ParseStatus::ok) {
    apply_capture_meta(meta, packet);
    if (aggregate) s.rules.apply(packet, s.usage);
    m.cache.input_of(packet, meta, general);
  }

  if (!wide && !aggregate) {
    // The fast path must agree with the general one on every frame it takes.
    MeterInput fast;
    std::memset(static_cast<void*>(&fast), 0xa5, sizeof fast);  // as a reused slot is
    if (fast_meter_input(link, frame, wire, meta, fast)) {
      FUZZ_CHECK(status == ParseStatus::ok);
      FUZZ_CHECK(std::memcmp(&fast, &general, sizeof fast) == 0);
    }
  }
  if (status == ParseStatus::ok) meter(s, m, general);
  return 0;
}
