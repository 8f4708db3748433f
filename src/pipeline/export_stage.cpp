#include "pipeline/export_stage.hpp"

#include <random>

namespace netflowd {

ExportConfig make_export_config(const Config& c, TimeUs start) {
  ExportConfig e;
  e.protocol = c.protocol;
  e.engine_id = c.engine_id;
  e.boot_time = start;
  e.start_time = start;
  e.payload_size = c.payload_size;
  e.refresh_rate = c.refresh_rate;
  e.timeout_rate = c.timeout_rate;
  e.features.mac = c.macaddress;
  e.features.vlan = c.vlan;
  e.features.direction = c.direction;
  e.features.physdev = c.physdev;
  e.features.mpls_depth = static_cast<std::uint8_t>(c.mpls_depth);
  e.sampler = c.sampler;
  e.features.sampler_id = static_cast<std::uint8_t>(c.sampler.mode);
  e.observation_domain_name = c.observation_domain_name;
  return e;
}

ExportStage::ExportStage(const Config& config, DatagramSink& sink, TimeUs start, std::uint16_t first_template_id)
    : sink_(sink),
      first_template_id_(first_template_id),
      sampler_(config.sampler),
      random_state_(std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32) | 1) {
  ExportConfig e = make_export_config(config, start);
  e.first_template_id = first_template_id;
  encoder_ = make_flow_encoder(e, sink);
  snmp_rules_ = config.snmp_rules_parsed;
  rebuild_interface_view();
  context_.interfaces = &exported_;
}

void ExportStage::add(const FlowRecord& record, TimeUs now) {
  if (sampler_.mode == SamplerMode::deterministic || sampler_.mode == SamplerMode::random) {
    ++sampling_.flows_observed;
    sampling_.packets_observed += record.packets;
    bool keep = false;
    if (sampler_.mode == SamplerMode::deterministic) {
      keep = record.creation_seq % sampler_.interval == 0;  // the N-th, 2N-th, ... flow created
    } else {
      random_state_ ^= random_state_ << 13;
      random_state_ ^= random_state_ >> 7;
      random_state_ ^= random_state_ << 17;
      keep = random_state_ % sampler_.interval == 0;
    }
    if (!keep) return;
    ++sampling_.flows_selected;
    sampling_.packets_selected += record.packets;
  }
  if (ifindex_map_.empty()) {
    encoder_->add(record, now);
    return;
  }
  FlowRecord r = record;
  auto map = [this](std::uint32_t i) {
    const auto it = ifindex_map_.find(i);
    return it == ifindex_map_.end() ? i : it->second;
  };
  r.key.in_ifindex = map(r.key.in_ifindex);
  r.out_ifindex = map(r.out_ifindex);
  encoder_->add(r, now);
}

void ExportStage::set_snmp_rules(std::shared_ptr<const SnmpRules> rules) {
  if (rules == snmp_rules_) return;
  snmp_rules_ = std::move(rules);
  rebuild_interface_view();
}

void ExportStage::rebuild_interface_view() {
  exported_ = interfaces_;
  ifindex_map_.clear();
  if (snmp_rules_) {
    for (InterfaceInfo& i : exported_) {
      const std::uint32_t mapped = snmp_rules_->map(i.name, i.ifindex);
      if (mapped != i.ifindex) ifindex_map_[i.ifindex] = mapped;
      i.ifindex = mapped;
    }
  }
  ++context_.interfaces_generation;
}

std::uint16_t ExportStage::next_template_id() const {
  // Ids run 256..65535 and then around again.
  const std::uint64_t next = first_template_id_ + encoder_->stats().templates;
  return static_cast<std::uint16_t>(next <= 0xffff ? next : 256 + (next - 0x10000) % (0x10000 - 256));
}

void ExportStage::set_interfaces(std::vector<InterfaceInfo> interfaces) {
  if (interfaces == interfaces_) return;
  interfaces_ = std::move(interfaces);
  rebuild_interface_view();
}

void ExportStage::tick(TimeUs now, const MeteringTotals& m) {
  ExportStatistics& s = context_.stats;
  s.observed_flows = m.observed_flows;
  s.ignored_packets = m.ignored_packets;
  s.ignored_bytes = m.ignored_bytes;
  s.first_ignored = m.first_ignored;
  s.last_ignored = m.last_ignored;
  if (sampler_.mode == SamplerMode::hash) {
    s.selector_packets_observed = m.metered_packets + m.sampled_out;
    s.selector_packets_selected = m.metered_packets;
  } else {
    s.selector_flows_observed = sampling_.flows_observed;
    s.selector_flows_selected = sampling_.flows_selected;
    s.selector_packets_observed = sampling_.packets_observed;
    s.selector_packets_selected = sampling_.packets_selected;
  }
  sink_.flush();
  sink_.poll_errors();
  const ExportTotals t = sink_.totals();
  s.exported_messages = t.delivered;
  s.exported_bytes = t.delivered_bytes;
  s.exported_records = t.flow_records;
  s.lost_flows = t.lost_flows;
  s.lost_packets = t.lost_packets;
  s.lost_bytes = t.lost_bytes;
  s.first_lost = t.first_lost;
  s.last_lost = t.last_lost;
  encoder_->tick(now, context_);
  const TimeUs pending = encoder_->pending_since();
  if (pending >= 0 && now - pending >= kMaxPendingDelay) encoder_->flush(now);
  sink_.flush();
}

}  // namespace netflowd
