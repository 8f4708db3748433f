#include "pipeline/live_control.hpp"

#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "control/parameters.hpp"

namespace netflowd {
namespace {

TimeUs wall_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
TimeUs monotonic_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Subtracts the counters of `base` from `s` (statistics zeroed by flush=2). Gauges (active
// flows, memory) are not counters and stay as they are.
void subtract(LiveSnapshot& s, const LiveSnapshot& base) {
  for (std::size_t i = 0; i < s.workers.size() && i < base.workers.size(); ++i) {
    FlowCacheStats& c = s.workers[i].cache;
    const FlowCacheStats& b = base.workers[i].cache;
    c.packets -= b.packets;
    c.bytes -= b.bytes;
    c.flows_created -= b.flows_created;
    c.lookups_found -= b.lookups_found;
    c.probes -= b.probes;
    c.maxflows_dropped_packets -= b.maxflows_dropped_packets;
    c.maxflows_dropped_bytes -= b.maxflows_dropped_bytes;
    c.alloc_dropped_packets -= b.alloc_dropped_packets;
    c.alloc_dropped_bytes -= b.alloc_dropped_bytes;
  }
  for (std::size_t i = 0; i < s.captures.size() && i < base.captures.size(); ++i) {
    CaptureSnapshot& c = s.captures[i];
    const CaptureSnapshot& b = base.captures[i];
    c.frames -= b.frames;
    for (std::size_t k = 0; k < kParseStatusCount; ++k) c.parse.by_status[k] -= b.parse.by_status[k];
    c.source_drops -= b.source_drops;
    c.source_overruns -= b.source_overruns;
    c.queue_drops -= b.queue_drops;
    c.own_export -= b.own_export;
    c.handed_on -= b.handed_on;
  }
  EncoderStats& e = s.exporter.encoder;
  const EncoderStats& be = base.exporter.encoder;
  e.records -= be.records;
  e.datagrams -= be.datagrams;
  e.packets -= be.packets;
  e.bytes -= be.bytes;
  e.not_exportable_flows -= be.not_exportable_flows;
  e.not_exportable_packets -= be.not_exportable_packets;
  e.not_exportable_bytes -= be.not_exportable_bytes;
  e.options_records -= be.options_records;
  e.nat_events -= be.nat_events;
  s.exporter.nat -= base.exporter.nat;
  ExportTotals& t = s.exporter.transport;
  const ExportTotals& bt = base.exporter.transport;
  t.datagrams -= bt.datagrams;
  t.delivered -= bt.delivered;
  t.delivered_bytes -= bt.delivered_bytes;
  t.flow_records -= bt.flow_records;
  t.lost_datagrams -= bt.lost_datagrams;
  t.lost_flows -= bt.lost_flows;
  t.lost_packets -= bt.lost_packets;
  t.lost_bytes -= bt.lost_bytes;
}

}  // namespace

LiveControl::LiveControl(const Config& config, std::size_t workers, std::size_t captures, TimeUs started)
    : config_(config), started_(started != 0 ? started : wall_now()), workers_(workers), captures_(captures) {}

Config LiveControl::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

std::string LiveControl::set(const std::vector<std::string>& assignments) {
  std::lock_guard lock(mutex_);
  Config next = config_;
  bool flush = false;
  bool zero = false;
  for (const std::string& assignment : assignments) {
    const std::string_view name = std::string_view(assignment).substr(0, assignment.find('='));
    const ParameterSpec* spec = find_parameter(name);
    if (spec != nullptr && spec->apply != nullptr && !spec->runtime) {
      return std::string(spec->name) + ": can only be set at start (restart netflowd to change it)";
    }
    try {
      apply_parameter(next, assignment);
    } catch (const ParameterError& e) {
      return e.what();
    }
    if (next.flush != 0) {
      flush = true;
      zero = zero || next.flush == 2;
      next.flush = 0;
    }
  }
  // Everything is valid: apply it all at once. A new protocol or destination, as upstream,
  // also exports every flow now (the new encoder starts with fresh templates).
  if (next.protocol != config_.protocol || next.destinations != config_.destinations) flush = true;
  if (flush) {
    flush_generation_.fetch_add(1, std::memory_order_acq_rel);
    if (zero) baseline_ = raw_snapshot_locked();
  }
  config_ = next;
  config_version_.fetch_add(1, std::memory_order_acq_rel);
  set_log_verbosity(config_.debug);
  return "";
}

std::vector<std::string> LiveControl::reload(const Config& fresh) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> changed;
  Config next = config_;
  for (const ParameterSpec& p : parameter_table()) {
    if (!p.runtime || p.get == nullptr || p.apply == nullptr || p.name == "flush") continue;
    const std::string value = p.get(fresh);
    if (value == p.get(next)) continue;
    // Values of a validated Config round-trip through their text form.
    if (p.name == "export_rate" && value == "auto") {
      next.export_rate.reset();
    } else {
      p.apply(next, value);
    }
    changed.emplace_back(p.name);
  }
  if (!changed.empty()) {
    config_ = next;
    config_version_.fetch_add(1, std::memory_order_acq_rel);
  }
  return changed;
}

void LiveControl::request_flush(bool zero_statistics) {
  std::lock_guard lock(mutex_);
  flush_generation_.fetch_add(1, std::memory_order_acq_rel);
  if (zero_statistics) baseline_ = raw_snapshot_locked();
}

void LiveControl::publish_worker(std::size_t index, const WorkerSnapshot& s) {
  std::lock_guard lock(mutex_);
  workers_.at(index) = s;
}
void LiveControl::publish_capture(std::size_t index, const CaptureSnapshot& s) {
  std::lock_guard lock(mutex_);
  captures_.at(index) = s;
}
void LiveControl::publish_exporter(const ExporterSnapshot& s) {
  std::lock_guard lock(mutex_);
  exporter_ = s;
  FlowCacheStats cache;
  for (const WorkerSnapshot& w : workers_) cache += w.cache;
  rates_.observe(monotonic_now(), {cache.packets, cache.bytes, exporter_.transport.delivered_bytes, cache.probes,
                                   cache.lookups_found, cache.flows_created});
}

LiveSnapshot LiveControl::raw_snapshot_locked() const {
  LiveSnapshot s;
  s.taken = wall_now();
  s.started = started_;
  s.config = config_;
  s.workers = workers_;
  s.captures = captures_;
  s.exporter = exporter_;
  return s;
}

LiveSnapshot LiveControl::snapshot() const {
  std::lock_guard lock(mutex_);
  LiveSnapshot s = raw_snapshot_locked();
  subtract(s, baseline_);
  s.rates = rates_.rates();
  return s;
}

void LiveControl::deliver_dump(std::uint64_t generation, const std::vector<FlowRecord>& flows) {
  std::lock_guard lock(mutex_);
  if (generation != dump_generation_.load()) return;  // an answer to an abandoned request
  dump_.insert(dump_.end(), flows.begin(), flows.end());
  ++dump_answers_;
}

std::vector<FlowRecord> LiveControl::dump_flows(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mutex_);
    dump_.clear();
    dump_answers_ = 0;
    dump_generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (dump_answers_ >= workers_.size()) return dump_;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw SetupError("flow dump: not every worker answered in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace netflowd
