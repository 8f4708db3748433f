#include "export/netflow5/netflow5_encoder.hpp"

#include <span>

#include "common/byte_writer.hpp"

namespace netflowd {

Netflow5Encoder::Netflow5Encoder(const ExportConfig& config, DatagramSink& sink) : config_(config), sink_(sink) {}

std::uint32_t Netflow5Encoder::uptime_ms(TimeUs t) const {
  // A free-running 32-bit millisecond counter, the same for header and records.
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(us_to_ms(t - config_.boot_time)));
}

void Netflow5Encoder::add(const FlowRecord& r, TimeUs now) {
  if (r.key.family != IpFamily::v4) {
    // v5 has 4-byte address fields: an IPv6 flow cannot be carried without lying.
    ++stats_.not_exportable_flows;
    stats_.not_exportable_packets += r.packets;
    stats_.not_exportable_bytes += r.bytes;
    return;
  }
  if (count_ == 0) pending_since_ = now;
  ByteWriter w{std::span(buffer_).subspan(kHeaderSize + count_ * kRecordSize, kRecordSize)};
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
  ++count_;
  ++stats_.records;
  stats_.packets += r.packets;
  stats_.bytes += r.bytes;
  ++contents_.flow_records;
  contents_.packets += r.packets;
  contents_.bytes += r.bytes;
  if (count_ == kMaxRecords) flush(now);
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
