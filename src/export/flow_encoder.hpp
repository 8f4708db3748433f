// The encoder interface shared by NetFlow v5, v9 and IPFIX.
//
// Thread affinity: one encoder per export thread. An encoder fills its datagram buffer with
// records and hands full datagrams to its DatagramSink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "export/datagram_sink.hpp"
#include "export/export_context.hpp"
#include "export/template/data_template.hpp"
#include "flow/flow_record.hpp"
#include "flow/nat_event.hpp"
#include "flow/sampler.hpp"

namespace netflowd {

struct ExportConfig {
  int protocol = 5;             // 5, 9 or 10 (IPFIX)
  std::uint32_t engine_id = 0;  // v5 engine_id (low 8 bits), v9 source id, IPFIX domain id
  TimeUs boot_time = 0;         // zero of the sysUptime clock (v5/v9)
  TimeUs start_time = 0;        // when metering started (options records)
  // v9/IPFIX only:
  std::size_t payload_size = 1400;  // bytes after the message header
  std::uint32_t refresh_rate = 20;  // re-send a template after this many messages
  std::uint32_t timeout_rate = 30;  // ... or after this many minutes (0: never by time)
  TemplateFeatures features;        // features.sampler_mode set when a sampler is active
  SamplerConfig sampler;
  std::string observation_domain_name = "netflowd";  // observationDomainName (IE 300)
  // Template ids continue where a previous encoder stopped (protocol or destination changes),
  // so a collector never sees an old id with a new meaning.
  std::uint16_t first_template_id = 256;
};

struct EncoderStats {
  std::uint64_t records = 0;    // flow records encoded
  std::uint64_t datagrams = 0;  // datagrams handed to the sink
  std::uint64_t packets = 0;    // packets and bytes of the encoded flow records
  std::uint64_t bytes = 0;
  // Flows this protocol cannot carry (IPv6 in NetFlow v5): counted, never truncated.
  std::uint64_t not_exportable_flows = 0;
  std::uint64_t not_exportable_packets = 0;
  std::uint64_t not_exportable_bytes = 0;
  std::uint64_t options_records = 0;  // v9/IPFIX options data records
  std::uint64_t templates = 0;        // template ids allocated
  // NAT events encoded; each also counts in `records`, as upstream counts them (a v5 event
  // that translated both source and destination takes two records).
  std::uint64_t nat_events = 0;

  EncoderStats& operator+=(const EncoderStats& o) {
    records += o.records;
    datagrams += o.datagrams;
    packets += o.packets;
    bytes += o.bytes;
    not_exportable_flows += o.not_exportable_flows;
    not_exportable_packets += o.not_exportable_packets;
    not_exportable_bytes += o.not_exportable_bytes;
    options_records += o.options_records;
    templates += o.templates;
    nat_events += o.nat_events;
    return *this;
  }
};

class FlowEncoder {
 public:
  virtual ~FlowEncoder() = default;
  // Encodes one record at time `now`; sends the datagram when it becomes full.
  virtual void add(const FlowRecord& record, TimeUs now) = 0;
  // Encodes one NAT event (reference §4): v9/IPFIX in a template of its own, v5 as
  // pseudo-records.
  virtual void add_nat_event(const NatEvent& event, TimeUs now) = 0;
  // Sends the partly filled datagram, if any.
  virtual void flush(TimeUs now) = 0;
  // Time the oldest pending record was added, or -1 if nothing is pending.
  virtual TimeUs pending_since() const = 0;
  // Called at every expiry scan: periodic options records and template refresh. v5 has none.
  virtual void tick(TimeUs /*now*/, const ExportContext& /*context*/) {}
  const EncoderStats& stats() const { return stats_; }

 protected:
  EncoderStats stats_;
};

// Throws ParameterError("protocol", ...) for a protocol it cannot encode.
std::unique_ptr<FlowEncoder> make_flow_encoder(const ExportConfig& config, DatagramSink& sink);

}  // namespace netflowd
