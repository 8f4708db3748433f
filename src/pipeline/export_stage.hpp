// The export end of a pipeline: encoder, options-record context, periodic work. Used by the
// --read loop and by the live export thread alike.
//
// Thread affinity: one thread (the export thread).
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "common/interface_info.hpp"
#include "control/config.hpp"
#include "export/flow_encoder.hpp"

namespace netflowd {

// How long a partly filled datagram may wait for more records before it is sent anyway.
inline constexpr TimeUs kMaxPendingDelay = kUsPerSecond;

// Metering totals the options records report, gathered from every worker.
struct MeteringTotals {
  std::uint64_t observed_flows = 0;
  std::uint64_t ignored_packets = 0;
  std::uint64_t ignored_bytes = 0;
  TimeUs first_ignored = 0;
  TimeUs last_ignored = 0;
  std::uint64_t metered_packets = 0;  // for the hash sampler's statistics
  std::uint64_t sampled_out = 0;      // packets the hash sampler did not select
};

class ExportStage {
 public:
  // `start` is the zero of the sysUpTime clock and the start of metering. `interfaces` must
  // outlive the stage; it may be replaced through set_interfaces().
  ExportStage(const Config& config, DatagramSink& sink, TimeUs start, std::uint16_t first_template_id = 256);

  void add(const FlowRecord& record, TimeUs now);
  // NAT events are never sampled (upstream).
  void add_nat_event(const NatEvent& event, TimeUs now) { encoder_->add_nat_event(event, now); }
  // Options records, template refresh by timer, and sending a datagram that waited too long.
  void tick(TimeUs now, const MeteringTotals& metering);
  // Sends whatever is pending.
  void finish(TimeUs now) {
    encoder_->flush(now);
    sink_.flush();
  }
  void set_interfaces(std::vector<InterfaceInfo> interfaces);
  // snmp-rules: exported interface numbers derived from interface names (nullptr: none).
  void set_snmp_rules(std::shared_ptr<const SnmpRules> rules);

  const EncoderStats& stats() const { return encoder_->stats(); }
  // Flow sampling at export (deterministic and random samplers); hash sampling happens when
  // packets are metered and is counted there.
  struct SamplingStats {
    std::uint64_t flows_observed = 0;
    std::uint64_t flows_selected = 0;
    std::uint64_t packets_observed = 0;
    std::uint64_t packets_selected = 0;
  };
  const SamplingStats& sampling() const { return sampling_; }
  // The first template id a successor stage should use.
  std::uint16_t next_template_id() const;

 private:
  DatagramSink& sink_;
  std::uint16_t first_template_id_;
  SamplerConfig sampler_;
  std::uint64_t random_state_;
  SamplingStats sampling_;
  std::unique_ptr<FlowEncoder> encoder_;
  void rebuild_interface_view();

  std::vector<InterfaceInfo> interfaces_;  // as the kernel numbers them
  std::vector<InterfaceInfo> exported_;    // with snmp-rules applied: what options records show
  std::shared_ptr<const SnmpRules> snmp_rules_;
  std::unordered_map<std::uint32_t, std::uint32_t> ifindex_map_;  // kernel -> exported, when they differ
  ExportContext context_;
};

ExportConfig make_export_config(const Config& config, TimeUs start);

}  // namespace netflowd
