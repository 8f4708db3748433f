#include "export/netflow5/netflow5_encoder.hpp"

#include <span>

namespace netflowd {

Netflow5Encoder::Netflow5Encoder(const ExportConfig& config, DatagramSink& sink) : config_(config), sink_(sink) {}

std::uint32_t Netflow5Encoder::uptime_ms(TimeUs t) const {
  // A free-running 32-bit millisecond counter, the same for header and records.
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(us_to_ms(t - config_.boot_time)));
}

ByteWriter Netflow5Encoder::next_record(TimeUs now) {
  if (count_ == 0) pending_since_ = now;
  return ByteWriter{std::span(buffer_).subspan(kHeaderSize + count_ * kRecordSize, kRecordSize)};
}

void Netflow5Encoder::record_done(TimeUs now, std::uint64_t packets, std::uint64_t bytes) {
  ++count_;
  ++stats_.records;
  stats_.packets += packets;
  stats_.bytes += bytes;
  ++contents_.flow_records;
  contents_.packets += packets;
  contents_.bytes += bytes;
  if (count_ == kMaxRecords) flush(now);
}

void Netflow5Encoder::add(const FlowRecord& r, TimeUs now) {
  if (r.key.family != IpFamily::v4) {
    // v5 has 4-byte address fields: an IPv6 flow cannot be carried without lying.
    ++stats_.not_exportable_flows;
    stats_.not_exportable_packets += r.packets;
    stats_.not_exportable_bytes += r.bytes;
    return;
  }
  ByteWriter w = next_record(now);
  w.put_bytes(std::span(r.key.src).first(4));  // srcaddr
  w.put_bytes(std::span(r.key.dst).first(4));  // dstaddr
  w.put_u32(0);                                // nexthop: no routing table in this source
  // input/output: v5 interface fields are 16 bits by format.
  w.put_u16(static_cast<std::uint16_t>(r.key.in_ifindex));
  w.put_u16(static_cast<std::uint16_t>(r.out_ifindex));
  w.put_u32(static_cast<std::uint32_t>(r.packets));  // dPkts (< 2^32, see kCounterLimit)
  w.put_u32(static_cast<std::uint32_t>(r.bytes));    // dOctets: sum of IP total lengths
  w.put_u32(uptime_ms(r.first));                     // first
  w.put_u32(uptime_ms(r.last));                      // last
  w.put_u16(r.key.src_port);
  w.put_u16(r.key.dst_port);  // ICMP: type << 8 | code
  w.put_u8(0);                // pad1
  w.put_u8(r.tcp_flags);
  w.put_u8(r.key.protocol);
  w.put_u8(r.key.tos);
  w.put_u16(0);            // src_as
  w.put_u16(0);            // dst_as
  w.put_u8(r.src_prefix);  // src_mask: the prefix length an aggregation rule cut to
  w.put_u8(r.dst_prefix);  // dst_mask
  w.put_u16(0);            // pad2
  record_done(now, r.packets, r.bytes);
}

// Reference §4.2: the connection as a FORWARD-chain flow would show it (pre-NAT source,
// post-NAT destination), with what was translated in nexthop and the AS fields: one record for
// a translated source, one for a translated destination.
void Netflow5Encoder::add_nat_event(const NatEvent& e, TimeUs now) {
  ++stats_.nat_events;
  const std::uint8_t flags = e.type == NatEventType::create ? 0x12 : 0x05;  // SYN|ACK, FIN|RST
  auto pseudo = [&](const std::array<std::uint8_t, 4>& nexthop, std::uint16_t src_as, std::uint16_t dst_as) {
    ByteWriter w = next_record(now);
    w.put_bytes(e.pre.src);   // srcaddr: pre-NAT source
    w.put_bytes(e.post.dst);  // dstaddr: post-NAT destination
    w.put_bytes(nexthop);     // what the translated side was translated to / from
    w.put_u16(0);             // input, output: no interface
    w.put_u16(0);
    w.put_u32(0);  // dPkts, dOctets: an event, not traffic
    w.put_u32(0);
    w.put_u32(uptime_ms(e.time));  // first = last = the event
    w.put_u32(uptime_ms(e.time));
    w.put_u16(e.pre.src_port);
    w.put_u16(e.post.dst_port);
    w.put_u8(0);  // pad1
    w.put_u8(flags);
    w.put_u8(e.protocol);
    w.put_u8(0);  // tos
    w.put_u16(src_as);
    w.put_u16(dst_as);
    w.put_u8(0);  // src_mask, dst_mask
    w.put_u8(0);
    w.put_u16(0);  // pad2
    record_done(now, 0, 0);
  };
  if (e.source_translated()) pseudo(e.post.src, e.post.src_port, 0);
  if (e.destination_translated()) pseudo(e.pre.dst, 0, e.pre.dst_port);
}

void Netflow5Encoder::flush(TimeUs now) {
  if (count_ == 0) return;
  ByteWriter h{std::span(buffer_).first(kHeaderSize)};
  h.put_u16(5);
  h.put_u16(static_cast<std::uint16_t>(count_));
  h.put_u32(uptime_ms(now));                                           // sysUptime
  h.put_u32(static_cast<std::uint32_t>(now / kUsPerSecond));           // unix_secs
  h.put_u32(static_cast<std::uint32_t>((now % kUsPerSecond) * 1000));  // unix_nsecs: really ns
  h.put_u32(sequence_);                                                // flow_sequence
  h.put_u8(0);                                                         // engine_type
  h.put_u8(static_cast<std::uint8_t>(config_.engine_id));              // engine_id
  h.put_u16(config_.sampler.v5_field());                               // sampling_interval: mode << 14 | N
  contents_.time = now;
  sink_.send(std::span(buffer_).first(kHeaderSize + count_ * kRecordSize), contents_);
  sequence_ += count_;
  ++stats_.datagrams;
  count_ = 0;
  contents_ = {};
  pending_since_ = -1;
}

}  // namespace netflowd
