#include "pipeline/run_summary.hpp"

namespace netflowd {

std::string format_summary_human(const RunSummary& s) {
  std::string out = "netflowd: " + std::to_string(s.frames) + " packets read, " + std::to_string(s.cache.packets) +
                    " metered (" + std::to_string(s.cache.bytes) + " bytes) into " +
                    std::to_string(s.cache.flows_created) + " flows; " + std::to_string(s.encoder.records) +
                    " records exported in " + std::to_string(s.encoder.datagrams) + " datagrams";
  if (s.encoder.not_exportable_flows != 0) {
    out += "; " + std::to_string(s.encoder.not_exportable_flows) + " flows (" +
           std::to_string(s.encoder.not_exportable_packets) + " packets) not exportable in this protocol (IPv6 in v5)";
  }
  if (s.encoder.nat_events != 0 || s.nat.not_nat + s.nat.malformed + s.nat.overruns != 0) {
    out += "; NAT events " + std::to_string(s.encoder.nat_events) + " (start " + std::to_string(s.nat.creates) +
           ", stop " + std::to_string(s.nat.destroys) + ", conntrack events without NAT " +
           std::to_string(s.nat.not_nat) + ", malformed " + std::to_string(s.nat.malformed) + ", overruns " +
           std::to_string(s.nat.overruns) + ")";
  }
  out += "; dropped " + std::to_string(s.dropped());
  std::string reasons;
  for (std::size_t i = 1; i < kParseStatusCount; ++i) {
    if (s.parse.by_status[i] == 0) continue;
    if (!reasons.empty()) reasons += ", ";
    reasons += std::string(to_string(static_cast<ParseStatus>(i))) + " " + std::to_string(s.parse.by_status[i]);
  }
  if (s.cache.maxflows_dropped_packets != 0) {
    if (!reasons.empty()) reasons += ", ";
    reasons += "maxflows " + std::to_string(s.cache.maxflows_dropped_packets);
  }
  if (s.cache.alloc_dropped_packets != 0) {
    if (!reasons.empty()) reasons += ", ";
    reasons += "no memory for new flows " + std::to_string(s.cache.alloc_dropped_packets);
  }
  if (s.queue_drops != 0) {
    if (!reasons.empty()) reasons += ", ";
    reasons += "worker queue full " + std::to_string(s.queue_drops);
  }
  if (!reasons.empty()) out += " (" + reasons + ")";
  if (s.source_drops != 0) out += "; lost before capture (kernel) " + std::to_string(s.source_drops);
  if (s.own_export != 0) out += "; own export datagrams skipped " + std::to_string(s.own_export);
  if (s.sampled_out != 0) out += "; not selected by the hash sampler " + std::to_string(s.sampled_out);
  if (s.sampler_flows_observed != 0) {
    out += "; sampler selected " + std::to_string(s.sampler_flows_selected) + " of " +
           std::to_string(s.sampler_flows_observed) + " flows";
  }
  if (s.send_errors != 0 || s.transport.lost_datagrams != 0) {
    out += "; send errors " + std::to_string(s.send_errors) + ", datagrams lost " +
           std::to_string(s.transport.lost_datagrams);
  }
  return out;
}

std::string format_summary_machine(const RunSummary& s) {
  std::string out = "netflowd: summary";
  auto add = [&out](std::string_view key, std::uint64_t v) {
    out += ' ';
    out += key;
    out += '=';
    out += std::to_string(v);
  };
  add("packets", s.frames);
  add("metered", s.cache.packets);
  add("bytes", s.cache.bytes);
  add("flows", s.cache.flows_created);
  add("records", s.encoder.records);
  add("datagrams", s.encoder.datagrams);
  add("options_records", s.encoder.options_records);
  add("nat_events", s.encoder.nat_events);
  add("nat_start", s.nat.creates);
  add("nat_stop", s.nat.destroys);
  add("nat_not_nat", s.nat.not_nat);
  add("nat_malformed", s.nat.malformed);
  add("nat_overruns", s.nat.overruns);
  add("templates", s.encoder.templates);
  add("not_exportable_flows", s.encoder.not_exportable_flows);
  add("not_exportable_packets", s.encoder.not_exportable_packets);
  add("not_exportable_bytes", s.encoder.not_exportable_bytes);
  add("dropped", s.dropped());
  add("non_ip", s.parse[ParseStatus::non_ip]);
  add("malformed", s.parse.malformed());
  add("maxflows", s.cache.maxflows_dropped_packets);
  add("source_drops", s.source_drops);
  add("queue_drops", s.queue_drops);
  add("own_export", s.own_export);
  add("sampled_out", s.sampled_out);
  add("sampler_flows_observed", s.sampler_flows_observed);
  add("sampler_flows_selected", s.sampler_flows_selected);
  add("send_errors", s.send_errors);
  add("lost_datagrams", s.transport.lost_datagrams);
  add("lost_flows", s.transport.lost_flows);
  for (std::size_t i = 2; i < kParseStatusCount; ++i) {
    add("drop_" + std::string(to_string(static_cast<ParseStatus>(i))), s.parse.by_status[i]);
  }
  add("handed_on", s.handed_on);
  std::uint64_t gso_sends = 0;
  for (const auto& d : s.destinations) gso_sends += d.second.batched_sends;
  add("gso_sends", gso_sends);
  add("alloc", s.cache.alloc_dropped_packets);
  add("alloc_bytes", s.cache.alloc_dropped_bytes);
  return out;
}

}  // namespace netflowd
