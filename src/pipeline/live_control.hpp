// What the control plane shares with a running pipeline: the configuration (changed with
// `netflowctl set` or SIGHUP), flush requests, statistics snapshots and flow dumps.
//
// Thread affinity: every method may be called from any thread. Pipeline threads poll the
// atomics at their periodic scan (every 100 ms), never per packet.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "control/config.hpp"
#include "export/flow_encoder.hpp"
#include "flow/flow_cache.hpp"
#include "packet/parse_status.hpp"
#include "pipeline/rate_meter.hpp"
#include "transport/udp_exporter.hpp"

namespace netflowd {

struct WorkerSnapshot {
  FlowCacheStats cache;
  std::uint64_t active_flows = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t index_slots = 0;
};

struct CaptureSnapshot {
  std::string name;  // "nflog group 5", "interface eth0"
  std::uint64_t frames = 0;
  ParseCounters parse;
  std::uint64_t source_drops = 0;
  std::uint64_t source_overruns = 0;  // CaptureStats::overruns
  std::uint64_t queue_drops = 0;
  std::uint64_t own_export = 0;
  std::uint64_t handed_on = 0;                   // read by this source's worker, metered by the flow's owner
  std::vector<std::uint64_t> aggregation_usage;  // per rule of the rules in force
  std::uint64_t sampled_out = 0;                 // packets the hash sampler did not select
};

struct DestinationSnapshot {
  std::string destination;
  SocketStats stats;
};

struct ExporterSnapshot {
  EncoderStats encoder;  // summed over every encoder since start (protocol changes)
  ExportTotals transport;
  std::vector<DestinationSnapshot> destinations;
  std::uint64_t sampler_flows_observed = 0;  // deterministic/random samplers, at export
  std::uint64_t sampler_flows_selected = 0;
  std::uint64_t sampler_packets_observed = 0;
  std::uint64_t sampler_packets_selected = 0;
  NatEventCounters nat;     // conntrack events read while natevents was on
  bool nat_active = false;  // the conntrack event socket is open (natevents=1 and it could be)
};

struct LiveSnapshot {
  TimeUs taken = 0;
  TimeUs started = 0;
  Config config;
  std::vector<WorkerSnapshot> workers;
  std::vector<CaptureSnapshot> captures;
  ExporterSnapshot exporter;
  Rates rates;  // not zeroed by flush=2: rates of the traffic, not totals
};

class LiveControl {
 public:
  LiveControl(const Config& config, std::size_t workers, std::size_t captures, TimeUs started);

  Config config() const;
  std::uint64_t config_version() const { return config_version_.load(std::memory_order_acquire); }
  // `netflowctl set NAME=VALUE [...]`: validates every assignment, then applies all of them at
  // once, or none; "" on success, else the reason.
  std::string set(const std::vector<std::string>& assignments);
  std::string set(std::string_view assignment) { return set(std::vector<std::string>{std::string(assignment)}); }
  // SIGHUP: takes the run-time parameters of `fresh`; returns the names that changed.
  std::vector<std::string> reload(const Config& fresh);

  std::uint64_t flush_generation() const { return flush_generation_.load(std::memory_order_acquire); }
  void request_flush(bool zero_statistics);

  // Statistics, published by each thread at its scan. The exporter's (every 100 ms) also
  // samples the totals for the rates (RateMeter).
  void publish_worker(std::size_t index, const WorkerSnapshot& s);
  void publish_capture(std::size_t index, const CaptureSnapshot& s);
  void publish_exporter(const ExporterSnapshot& s);
  // The current totals, less what they were at the last `flush=2`.
  LiveSnapshot snapshot() const;

  // Flow dump: the control thread asks and waits; each worker answers at its next scan.
  std::uint64_t dump_generation() const { return dump_generation_.load(std::memory_order_acquire); }
  void deliver_dump(std::uint64_t generation, const std::vector<FlowRecord>& flows);
  std::vector<FlowRecord> dump_flows(std::chrono::milliseconds timeout);

 private:
  LiveSnapshot raw_snapshot_locked() const;

  mutable std::mutex mutex_;
  Config config_;
  std::atomic<std::uint64_t> config_version_{0};
  std::atomic<std::uint64_t> flush_generation_{0};
  TimeUs started_;
  std::vector<WorkerSnapshot> workers_;
  std::vector<CaptureSnapshot> captures_;
  ExporterSnapshot exporter_;
  LiveSnapshot baseline_;  // subtracted from snapshots (flush=2 zeroes statistics)
  RateMeter rates_;
  std::atomic<std::uint64_t> dump_generation_{0};
  std::size_t dump_answers_ = 0;
  std::vector<FlowRecord> dump_;
};

}  // namespace netflowd
