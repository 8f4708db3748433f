#include "pipeline/live_pipeline.hpp"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <random>
#include <thread>

#include "capture/afpacket/afpacket_source.hpp"
#include "capture/conntrack/nat_event_source.hpp"
#include "capture/netlink/interface_table.hpp"
#include "capture/nflog/nflog_source.hpp"
#include "common/error.hpp"
#include "common/flow_shard.hpp"
#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "flow/fast_input.hpp"
#include "flow/meter_pipeline.hpp"
#include "packet/apply_meta.hpp"
#include "packet/parser.hpp"
#include "pipeline/export_stage.hpp"
#include "pipeline/flow_cache_config.hpp"
#include "pipeline/own_export_filter.hpp"
#include "pipeline/spsc_queue.hpp"

namespace netflowd {
namespace {

constexpr TimeUs kScanInterval = 100 * kUsPerMs;
constexpr auto kIdleWait = std::chrono::milliseconds(100);
constexpr std::size_t kBatch = 256;
// A worker that queued packets for another wakes it (if it sleeps) once this many are
// waiting, or once the first of them has waited kRingDelay: a wake-up (a system call, two
// context switches, and caches that the other thread refills, when both share a core) costs
// more than metering dozens of packets, and no flow needs its packets counted within
// milliseconds (their times come from the packets). 4096 and 20 ms instead of 1024 and 5 ms:
// NFLOG, one group, workers=2, 398 -> 337 ns per packet (docs/performance.md). Half of the
// default queue_capacity, so a producer still has room while the woken worker catches up.
constexpr std::size_t kRingEvery = 4096;
constexpr TimeUs kRingDelay = 20 * kUsPerMs;
constexpr int kFullQueueWaits = 20;  // a capture thread waits at most 20 x 100 us for a full queue
constexpr auto kFullQueueWait =
    std::chrono::microseconds(100);  // a capture thread wakes its workers at least this often
constexpr auto kDrainTime = std::chrono::milliseconds(250);
constexpr std::uint64_t kPublishEvery = 4096;  // capture threads publish counters this often

TimeUs wall_clock_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<TimeUs>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
}

// A worker's doorbell that poll() can wait on together with its sources: an eventfd,
// written only when the worker is (about to be) asleep, so producers pay no system call per
// push while it is busy.
class EventBell {
 public:
  EventBell() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (!fd_) throw SetupError(std::string("eventfd: ") + std::strerror(errno));
  }
  int fd() const { return fd_.get(); }
  void ring() {
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the push before, the flag after
    if (sleeping_.load(std::memory_order_relaxed)) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(fd_.get(), &one, sizeof one);
    }
  }
  // The consumer: announce the sleep, then check its queues once more, then poll.
  void sleep_begin() {
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void sleep_end(bool rung) {
    sleeping_.store(false, std::memory_order_relaxed);
    if (rung) {
      std::uint64_t value = 0;
      [[maybe_unused]] const ssize_t n = ::read(fd_.get(), &value, sizeof value);
    }
  }

 private:
  UniqueFd fd_;
  std::atomic<bool> sleeping_{false};
};

// Counters other threads need while running (the export thread's options records).
struct SharedCounters {
  std::atomic<std::uint64_t> ignored_packets{0};
  std::atomic<std::uint64_t> ignored_bytes{0};
  std::atomic<TimeUs> first_ignored{0};
  std::atomic<TimeUs> last_ignored{0};
  std::atomic<std::uint64_t> flows_created{0};
  std::atomic<std::uint64_t> metered_packets{0};
  std::atomic<std::uint64_t> sampled_out{0};

  void ignore(std::uint64_t bytes, TimeUs now) {
    ignored_packets.fetch_add(1, std::memory_order_relaxed);
    ignored_bytes.fetch_add(bytes, std::memory_order_relaxed);
    TimeUs zero = 0;
    first_ignored.compare_exchange_strong(zero, now, std::memory_order_relaxed);
    last_ignored.store(now, std::memory_order_relaxed);
  }
};

struct Capture {
  CaptureSource* source;
  AfPacketSource* ring = nullptr;  // the same source when it is an AF_PACKET ring
  bool meters_all = false;         // its worker meters all of its packets (one worker, nflog_split=1)
  CaptureSnapshot counters;
  bool running = true;  // false once the source ended, failed or was drained at shutdown
};

struct Worker {
  std::unique_ptr<FlowCache> cache;
  std::unique_ptr<SpscQueue<FlowRecord>> to_exporter;
  // Packets other workers read whose flows this worker owns: one queue per producing worker
  // (null for itself).
  std::vector<std::unique_ptr<SpscQueue<MeterInput>>> inbound;
  std::vector<std::size_t> captures;  // the sources this worker reads
  EventBell bell;
  std::atomic<bool> done{false};
};

void pin_to_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  // An invalid or offline CPU disables pinning, as upstream's exportcpu does.
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

std::unique_ptr<UdpExporter> make_exporter(const Config& c) {
  UdpExporterOptions o;
  o.sndbuf = c.sndbuf;
  o.rate = c.export_rate.value_or(0);
  o.segmentation = c.export_gso;
  return std::make_unique<UdpExporter>(c.destinations, o);
}

std::vector<OwnExportFilter::Target> targets_of(const UdpExporter& e) {
  std::vector<OwnExportFilter::Target> t;
  for (std::size_t i = 0; i < e.size(); ++i)
    t.push_back({e.destination(i).address, e.destination(i).port, e.local_port(i)});
  return t;
}

// Whether a change from `a` to `b` needs new sockets / a new encoder.
bool transport_changed(const Config& a, const Config& b) {
  return a.destinations != b.destinations || a.sndbuf != b.sndbuf || a.export_rate != b.export_rate ||
         a.export_gso != b.export_gso;
}
bool encoder_changed(const Config& a, const Config& b) {
  return transport_changed(a, b) || a.sampler != b.sampler || a.protocol != b.protocol || a.engine_id != b.engine_id ||
         a.payload_size != b.payload_size || a.refresh_rate != b.refresh_rate || a.timeout_rate != b.timeout_rate ||
         a.macaddress != b.macaddress || a.vlan != b.vlan || a.direction != b.direction || a.physdev != b.physdev ||
         a.mpls_depth != b.mpls_depth;
}

}  // namespace

RunSummary run_live(std::vector<std::unique_ptr<CaptureSource>>& sources, LiveControl& control,
                    const LiveOptions& options, std::stop_token stop) {
  const unsigned nworkers = std::max(1u, options.workers);
  const Config initial = control.config();
  const TimeUs start = wall_clock_now();
  SharedCounters shared;
  OwnExportFilter own_export;

  // Sockets are set up before any thread starts, so a bad destination fails at once.
  std::unique_ptr<UdpExporter> first_exporter = make_exporter(initial);
  own_export.set(targets_of(*first_exporter));
  // Likewise the conntrack event socket: natevents=1 that cannot work fails at start.
  std::unique_ptr<NatEventSource> first_nat_source;
  if (initial.natevents) first_nat_source = std::make_unique<NatEventSource>();

  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<std::int64_t> live_flows{0};  // all shards together, for maxflows
  for (unsigned w = 0; w < nworkers; ++w) {
    auto worker = std::make_unique<Worker>();
    worker->cache = std::make_unique<FlowCache>(flow_cache_config(initial, nworkers));
    if (nworkers > 1) worker->cache->share_flow_count(&live_flows);
    worker->to_exporter = std::make_unique<SpscQueue<FlowRecord>>(options.queue_capacity);
    worker->inbound.resize(nworkers);
    for (unsigned p = 0; p < nworkers; ++p) {
      if (p != w) worker->inbound[p] = std::make_unique<SpscQueue<MeterInput>>(options.queue_capacity);
    }
    workers.push_back(std::move(worker));
  }
  std::vector<std::unique_ptr<Capture>> captures;
  std::size_t next_worker = 0;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    auto c = std::make_unique<Capture>();
    c->source = sources[i].get();
    c->ring = dynamic_cast<AfPacketSource*>(c->source);
    c->meters_all = nworkers == 1 || (options.nflog_split && dynamic_cast<NflogSource*>(c->source) != nullptr);
    c->counters.name = sources[i]->name();
    // A steered ring goes to the worker whose flows the kernel sends it; other sources in turn.
    const int preferred = sources[i]->preferred_worker();
    const std::size_t worker = preferred >= 0 ? static_cast<std::size_t>(preferred) : next_worker++;
    workers[worker % nworkers]->captures.push_back(i);
    captures.push_back(std::move(c));
  }
  std::atomic<std::size_t> captures_running{captures.size()};
  Doorbell export_bell;
  // One seed for every worker: a flow seen through two sources is selected or not as a whole.
  const std::uint64_t sampler_seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);

  // Every worker reads its own sources (run to completion: parse, key, hash, meter on the same
  // thread), meters the packets whose flows it owns at once and queues the others to their
  // owner, in metering form (MeterInput: key and hash included). With one worker, or when the
  // kernel already spreads an interface's packets over the workers' rings the way the flows
  // are sharded, nothing crosses threads. With nflog_split=1 the ruleset keeps each flow in
  // one NFLOG group, and the group's reader meters all of its packets: nothing crosses either.
  auto worker_loop = [&](unsigned self) {
    Worker& w = *workers[self];
    std::vector<FlowRecord> ended;
    TimeUs next_scan = 0;
    std::uint64_t reported_created = 0;
    std::uint64_t reported_packets = 0;
    std::uint64_t config_seen = control.config_version();
    Config config = control.config();
    SamplerConfig control_sampler = config.sampler;
    FlowKeyOptions key_options = flow_cache_config(config).key_options;
    std::shared_ptr<const AggregationRules> aggregation = config.aggregation_rules;
    // Common frames skip the general parser when the key is the default one (flow/fast_input.hpp).
    bool fast_input = fast_input_applies(key_options, aggregation != nullptr);
    for (std::size_t c : w.captures)
      captures[c]->counters.aggregation_usage.assign(aggregation ? aggregation->size() : 0, 0);
    std::uint64_t flush_seen = control.flush_generation();
    std::uint64_t dump_seen = control.dump_generation();
    std::vector<OwnExportFilter::Target> own = own_export.get();
    std::uint64_t own_seen = own_export.version();

    // Packets this worker meters go through a prefetching pipeline (flow/meter_pipeline.hpp).
    MeterPipeline pipeline(*w.cache);
    auto on_drop = [&](const MeterInput& in) { shared.ignore(in.ip_length, in.timestamp); };
    // Packets other workers queued for this one.
    auto drain_inbound = [&] {
      std::size_t n = 0;
      for (auto& q : w.inbound) {
        if (!q) continue;
        for (std::size_t k = 0; k < kBatch && q->pop(pipeline.slot()); ++k) {
          pipeline.commit(ended, on_drop);
          ++n;
        }
      }
      pipeline.flush(ended, on_drop);
      return n;
    };
    // Workers this one queued packets for since it last woke them.
    std::vector<char> unrung(nworkers, 0);
    std::size_t pushed_unrung = 0;
    TimeUs first_unrung = 0;  // when the oldest of them was queued
    auto ring_workers = [&] {
      for (std::size_t i = 0; i < nworkers; ++i) {
        if (unrung[i]) workers[i]->bell.ring();
        unrung[i] = 0;
      }
      pushed_unrung = 0;
    };
    // Queues a packet of another worker's flow to its owner. A full queue (the owner is
    // catching up after a stall or a burst): wake it and wait a little, metering what others
    // queued here meanwhile (two workers may wait for each other), so that the backlog stays
    // in the kernel's buffer, which the kernel counts when it overflows.
    auto hand_to = [&](std::size_t owner, const MeterInput& slot, CaptureSnapshot& n) {
      auto& q = *workers[owner]->inbound[self];
      if (!q.push(slot)) {
        const MeterInput in = slot;  // drain_inbound() reuses the pipeline's slot
        bool queued = false;
        for (int wait = 0; !queued && wait < kFullQueueWaits; ++wait) {
          workers[owner]->bell.ring();
          drain_inbound();
          std::this_thread::sleep_for(kFullQueueWait);
          queued = q.push(in);
        }
        if (!queued) {
          ++n.queue_drops;
          shared.ignore(in.ip_length, in.timestamp);
          return;
        }
      }
      ++n.handed_on;
      unrung[owner] = 1;
      if (pushed_unrung == 0) first_unrung = wall_clock_now();
      if (++pushed_unrung >= kRingEvery) ring_workers();
    };

    auto publish_capture = [&](std::size_t index) {
      Capture& c = *captures[index];
      const CaptureStats& kernel = c.source->stats();
      c.counters.source_drops = kernel.source_drops;
      c.counters.source_overruns = kernel.overruns;
      control.publish_capture(index, c.counters);
    };
    ParsedPacket packet;
    CapturedFrame frame;
    // Reads up to kBatch frames of one source. `source` is the capture's source; called with
    // its concrete type where that is known (an AF_PACKET ring), so that next() inlines into
    // this loop instead of being a virtual call per frame.
    enum class Read : std::uint8_t { frames, nothing, finished };
    auto read_frames = [&](std::size_t index, auto& source) {
      Capture& c = *captures[index];
      CaptureSnapshot& n = c.counters;
      const bool meters_all = c.meters_all;  // read once per batch, not per packet
      const LinkType link = source.link_type();
      std::size_t k = 0;
      bool finished = false;
      for (; k < kBatch; ++k) {
        const NextResult rc = source.next(frame);
        if (rc == NextResult::idle) break;
        if (rc != NextResult::frame) {
          if (rc == NextResult::error) log_message(LOG_ERR, "%s", source.error().c_str());
          finished = true;
          break;
        }
        if (++n.frames % kPublishEvery == 0) publish_capture(index);
        MeterInput& in = pipeline.slot();
        if (fast_input && fast_meter_input(link, frame.bytes, frame.wire_length, frame.meta, in)) {
          n.parse.count(ParseStatus::ok);
          if (OwnExportFilter::matches(own, in.key)) {
            ++n.own_export;
            continue;
          }
        } else {
          const ParseStatus status = parse_packet(link, frame.bytes, frame.wire_length, packet);
          if (status != ParseStatus::ok) {
            n.parse.count(status);
            shared.ignore(std::min<std::uint64_t>(frame.wire_length, frame.bytes.size()), frame.meta.timestamp);
            continue;
          }
          n.parse.count(ParseStatus::ok);
          apply_capture_meta(frame.meta, packet);
          if (OwnExportFilter::matches(own, packet)) {
            ++n.own_export;
            continue;
          }
          if (aggregation) aggregation->apply(packet, n.aggregation_usage);
          make_meter_input(packet, frame.meta, key_options, in);
        }
        if (config.sampler.mode == SamplerMode::hash && !hash_selects(in.hash, sampler_seed, config.sampler.interval)) {
          ++n.sampled_out;  // observed, deliberately not metered
          shared.sampled_out.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        const std::size_t owner = meters_all ? self : shard_of_folded(fold_for_shard(in.key), nworkers);
        if (owner == self) {
          pipeline.commit(ended, on_drop);
        } else {
          hand_to(owner, in, n);
        }
      }
      pipeline.flush(ended, on_drop);
      return finished ? Read::finished : k != 0 ? Read::frames : Read::nothing;
    };
    auto read_source = [&](std::size_t index) {
      Capture& c = *captures[index];
      if (c.ring != nullptr) return read_frames(index, *c.ring);
      return read_frames(index, *c.source);
    };

    auto hand_over_one = [&](const FlowRecord& r) {
      // Never lose a flow: wait for the export thread rather than drop.
      while (!w.to_exporter->push(r)) {
        export_bell.ring();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    };
    auto hand_over = [&] {
      for (const FlowRecord& r : ended) hand_over_one(r);
      if (!ended.empty()) export_bell.ring();
      ended.clear();
    };
    // Every flow of the cache ends (flush=1, a new protocol or destination, new key fields,
    // the stop) and goes to the export thread as the cache makes its record: not through a
    // list of all of them (152 bytes a flow), which with millions of flows would be the largest
    // allocation netflowd makes, at a time when memory may be what is short.
    auto end_all = [&] {
      hand_over();
      const bool any = w.cache->size() != 0;
      w.cache->drain(FlowEndReason::forced_end, hand_over_one);
      if (any) export_bell.ring();
    };
    auto publish = [&] {
      const std::uint64_t created = w.cache->stats().flows_created;
      shared.flows_created.fetch_add(created - reported_created, std::memory_order_relaxed);
      shared.metered_packets.fetch_add(w.cache->stats().packets - reported_packets, std::memory_order_relaxed);
      reported_packets = w.cache->stats().packets;
      reported_created = created;
      control.publish_worker(
          self, WorkerSnapshot{w.cache->stats(), w.cache->size(), w.cache->memory_bytes(), w.cache->index_capacity()});
      for (std::size_t c : w.captures) publish_capture(c);
    };
    // Run-time changes, flushes and dumps are looked at once per scan, never per packet.
    auto follow_control = [&] {
      if (own_export.version() != own_seen) {
        own_seen = own_export.version();
        own = own_export.get();
      }
      if (control.config_version() != config_seen) {
        config_seen = control.config_version();
        config = control.config();
        const FlowCacheConfig next = flow_cache_config(config, nworkers);
        const FlowCacheConfig& now_cfg = w.cache->config();
        // Packets other workers keyed just before they saw the change may still arrive keyed
        // the old way; they are counted, in flows of their own.
        if (next.key_options.mac != now_cfg.key_options.mac || control_sampler != config.sampler ||
            next.key_options.mpls_labels != now_cfg.key_options.mpls_labels ||
            next.counter_limit != now_cfg.counter_limit) {
          end_all();  // flows keyed the old way end here
        }
        // What the system does not grant memory for is not applied, and the worker goes on
        // metering with the flows it has, instead of ending netflowd with every cached flow.
        switch (w.cache->reconfigure(next)) {
          case FlowCache::Reconfigured::applied: break;
          case FlowCache::Reconfigured::index_kept:
            log_message(LOG_ERR, "worker %u: hashsize=%u: no memory for an index of that size; keeping %zu slots", self,
                        next.hashsize, w.cache->index_capacity());
            break;
          case FlowCache::Reconfigured::unchanged:
            log_message(LOG_ERR,
                        "worker %u: no memory for the flow extensions the new key fields need; keeping the "
                        "previous settings",
                        self);
            break;
        }
        control_sampler = config.sampler;
        key_options = w.cache->config().key_options;
        if (config.aggregation_rules != aggregation) {
          aggregation = config.aggregation_rules;
          for (std::size_t c : w.captures) {
            captures[c]->counters.aggregation_usage.assign(aggregation ? aggregation->size() : 0, 0);
          }
        }
        fast_input = fast_input_applies(key_options, aggregation != nullptr);
      }
      if (control.flush_generation() != flush_seen) {
        flush_seen = control.flush_generation();
        end_all();
      }
      if (control.dump_generation() != dump_seen) {
        dump_seen = control.dump_generation();
        try {
          std::vector<FlowRecord> flows;
          flows.reserve(w.cache->size());
          w.cache->for_each([&](const FlowRecord& r) { flows.push_back(r); });
          control.deliver_dump(dump_seen, flows);
        } catch (const std::bad_alloc&) {
          // No answer: the request ends with "not every worker answered"; metering goes on.
          log_message(LOG_ERR, "worker %u: no memory for a flow dump of %zu flows", self, w.cache->size());
        }
      }
    };
    // A source is finished when it ends or fails, or at shutdown once it is empty: what the
    // kernel already queued (NFLOG batches, ring blocks) is still read and metered, for at
    // most kDrainTime, so SIGTERM does not lose packets the kernel had delivered and traffic
    // that keeps coming cannot hold the shutdown up.
    std::size_t own_running = w.captures.size();
    auto finish_source = [&](std::size_t index) {
      captures[index]->running = false;
      publish_capture(index);
      --own_running;
      if (captures_running.fetch_sub(1) == 1) {
        for (auto& other : workers) other->bell.ring();  // everyone may drain and exit now
      }
    };
    bool draining = false;
    std::chrono::steady_clock::time_point drain_deadline{};
    std::vector<pollfd> fds;
    for (;;) {
      if (!draining && stop.stop_requested()) {
        draining = true;
        drain_deadline = std::chrono::steady_clock::now() + kDrainTime;
      }
      const bool drain_over = draining && std::chrono::steady_clock::now() > drain_deadline;
      bool busy = false;
      for (std::size_t c : w.captures) {
        if (!captures[c]->running) continue;
        const Read r = drain_over ? Read::nothing : read_source(c);
        busy = busy || r == Read::frames;
        if (r == Read::finished || drain_over || (draining && r == Read::nothing)) finish_source(c);
      }
      busy = drain_inbound() != 0 || busy;
      const TimeUs now = wall_clock_now();
      if (pushed_unrung != 0 && (draining || now - first_unrung >= kRingDelay)) ring_workers();
      if (now >= next_scan) {
        next_scan = now + kScanInterval;
        follow_control();
        w.cache->expire(now, ended);
        publish();
      }
      hand_over();
      if (busy) continue;
      if (captures_running.load() == 0) {
        bool drained = true;
        for (auto& q : w.inbound) drained = drained && (!q || q->empty());
        if (drained) break;
        continue;
      }
      // Nothing at hand: sleep until a source has data, a worker queued packets here, or the
      // next scan is due.
      fds.clear();
      for (std::size_t c : w.captures) {
        if (captures[c]->running && captures[c]->source->poll_fd() >= 0) {
          fds.push_back({captures[c]->source->poll_fd(), POLLIN, 0});
        }
      }
      fds.push_back({w.bell.fd(), POLLIN, 0});
      w.bell.sleep_begin();
      bool queued = false;
      for (auto& q : w.inbound) queued = queued || (q && !q->empty());
      const TimeUs wake_at = pushed_unrung != 0 ? std::min(next_scan, first_unrung + kRingDelay) : next_scan;
      int timeout_ms = static_cast<int>(std::clamp<TimeUs>((wake_at - now + 999) / 1000, 1, 100));
      if (draining || (own_running != 0 && fds.size() == 1)) timeout_ms = 1;  // sources without a descriptor
      if (!queued && captures_running.load() != 0) ::poll(fds.data(), fds.size(), timeout_ms);
      w.bell.sleep_end((fds.back().revents & POLLIN) != 0);
    }
    end_all();
    publish();
    w.done.store(true);
    export_bell.ring();
  };

  RunSummary summary;
  auto export_loop = [&] {
    pin_to_cpu(options.export_cpu);
    Config config = initial;
    std::uint64_t config_seen = control.config_version();
    std::unique_ptr<UdpExporter> exporter = std::move(first_exporter);
    ExportTotals transport_before;  // of exporters replaced by destination changes
    EncoderStats encoder_before;    // of encoders replaced by protocol changes
    ExportStage::SamplingStats sampling_before;
    std::vector<InterfaceInfo> interfaces;
    try {
      interfaces = read_interfaces();
    } catch (const std::exception& e) {
      log_message(LOG_WARNING, "interface table unavailable: %s", e.what());
    }
    auto stage = std::make_unique<ExportStage>(config, *exporter, start);
    stage->set_interfaces(interfaces);
    // NAT events (natevents=1): read at every scan, after the flows, as upstream exports them.
    std::unique_ptr<NatEventSource> nat_source = std::move(first_nat_source);
    NatEventCounters nat_before;  // of sources closed by natevents=0
    std::vector<NatEvent> nat_events;
    auto export_nat_events = [&](TimeUs now) {
      if (!nat_source) return;
      nat_source->read(nat_events);
      for (const NatEvent& e : nat_events) stage->add_nat_event(e, now);
      nat_events.clear();
    };
    auto follow_natevents = [&](bool on, TimeUs now) {
      if (on && !nat_source) {
        try {
          nat_source = std::make_unique<NatEventSource>();
          log_message(LOG_INFO, "NAT events on");
        } catch (const std::exception& e) {
          log_message(LOG_ERR, "%s; NAT events stay off", e.what());
        }
      } else if (!on && nat_source) {
        export_nat_events(now);  // what the socket already holds still goes out
        nat_before += nat_source->counters();
        nat_source.reset();
        log_message(LOG_INFO, "NAT events off");
      }
    };
    std::unique_ptr<InterfaceWatcher> watcher;
    try {
      watcher = std::make_unique<InterfaceWatcher>();
    } catch (const std::exception& e) {
      log_message(LOG_WARNING, "interface changes will not be noticed: %s", e.what());
    }
    auto publish = [&] {
      ExporterSnapshot s;
      s.encoder = encoder_before;
      s.encoder += stage->stats();
      s.transport = transport_before;
      s.transport += exporter->totals();
      s.sampler_flows_observed = sampling_before.flows_observed + stage->sampling().flows_observed;
      s.sampler_flows_selected = sampling_before.flows_selected + stage->sampling().flows_selected;
      s.sampler_packets_observed = sampling_before.packets_observed + stage->sampling().packets_observed;
      s.sampler_packets_selected = sampling_before.packets_selected + stage->sampling().packets_selected;
      s.nat = nat_before;
      if (nat_source) s.nat += nat_source->counters();
      s.nat_active = nat_source != nullptr;
      for (std::size_t i = 0; i < exporter->size(); ++i) {
        s.destinations.push_back({exporter->destination(i).to_string(), exporter->socket_stats(i)});
      }
      control.publish_exporter(s);
      return s;
    };
    auto follow_control = [&](TimeUs now) {
      if (control.config_version() == config_seen) return;
      config_seen = control.config_version();
      const Config next = control.config();
      stage->set_snmp_rules(next.snmp_rules_parsed);
      follow_natevents(next.natevents, now);
      if (!encoder_changed(config, next)) {
        config = next;
        return;
      }
      // New protocol, destination or template features: send what the old encoder holds,
      // then start a new one whose template ids continue after the old ones.
      stage->finish(now);
      encoder_before += stage->stats();
      if (next.sampler == config.sampler) {  // a new sampler starts its counts afresh (upstream)
        sampling_before.flows_observed += stage->sampling().flows_observed;
        sampling_before.flows_selected += stage->sampling().flows_selected;
        sampling_before.packets_observed += stage->sampling().packets_observed;
        sampling_before.packets_selected += stage->sampling().packets_selected;
      } else {
        sampling_before = {};
      }
      const std::uint16_t next_id = stage->next_template_id();
      if (transport_changed(config, next)) {
        try {
          auto replacement = make_exporter(next);
          transport_before += exporter->totals();
          exporter = std::move(replacement);
          own_export.set(targets_of(*exporter));
        } catch (const std::exception& e) {
          log_message(LOG_ERR, "new destination not usable, keeping the old one: %s", e.what());
        }
      }
      config = next;
      stage = std::make_unique<ExportStage>(config, *exporter, start, next_id);
      stage->set_interfaces(interfaces);
      log_message(LOG_INFO, "export now protocol %d to %s", config.protocol,
                  format_destinations(config.destinations).c_str());
    };
    TimeUs next_tick = 0;
    FlowRecord r;
    auto has_work = [&] {
      for (auto& w : workers) {
        if (!w->to_exporter->empty() || w->done.load()) return true;
      }
      return false;
    };
    for (;;) {
      std::size_t n = 0;
      TimeUs now = wall_clock_now();
      for (auto& w : workers) {
        while (n < 4 * kBatch && w->to_exporter->pop(r)) {
          stage->add(r, now);
          ++n;
        }
      }
      if (n != 0) exporter->flush();  // what the burst filled goes now, not at the next tick
      if (now >= next_tick) {
        next_tick = now + kScanInterval;
        follow_control(now);
        if (watcher && watcher->changed()) {
          try {
            interfaces = read_interfaces();
            stage->set_interfaces(interfaces);
          } catch (const std::exception&) {
            // keep the previous table
          }
        }
        MeteringTotals m;
        m.observed_flows = shared.flows_created.load(std::memory_order_relaxed);
        m.metered_packets = shared.metered_packets.load(std::memory_order_relaxed);
        m.sampled_out = shared.sampled_out.load(std::memory_order_relaxed);
        m.ignored_packets = shared.ignored_packets.load(std::memory_order_relaxed);
        m.ignored_bytes = shared.ignored_bytes.load(std::memory_order_relaxed);
        m.first_ignored = shared.first_ignored.load(std::memory_order_relaxed);
        m.last_ignored = shared.last_ignored.load(std::memory_order_relaxed);
        export_nat_events(now);
        stage->tick(now, m);
        publish();
      }
      if (n == 0) {
        bool all_done = true;
        for (auto& w : workers) all_done = all_done && w->done.load() && w->to_exporter->empty();
        if (all_done) break;
        export_bell.wait(has_work, kIdleWait);
      }
    }
    export_nat_events(wall_clock_now());
    stage->finish(wall_clock_now());
    const ExporterSnapshot s = publish();
    summary.encoder = s.encoder;
    summary.nat = s.nat;
    summary.sampler_flows_observed = s.sampler_flows_observed;
    summary.sampler_flows_selected = s.sampler_flows_selected;
    summary.transport = s.transport;
    for (const auto& d : s.destinations) {
      summary.destinations.emplace_back(d.destination, d.stats);
      summary.send_errors += d.stats.err_sndbuf + d.stats.err_cberr + d.stats.err_other;
    }
  };

  {
    std::vector<std::jthread> threads;
    threads.emplace_back(export_loop);
    for (unsigned w = 0; w < nworkers; ++w) threads.emplace_back(worker_loop, w);
  }  // joins: captures stop on `stop`, workers drain, the exporter sends everything

  for (auto& c : captures) {
    summary.frames += c->counters.frames;
    summary.parse += c->counters.parse;
    summary.own_export += c->counters.own_export;
    summary.queue_drops += c->counters.queue_drops;
    summary.handed_on += c->counters.handed_on;
    summary.source_drops += c->counters.source_drops;
    summary.sampled_out += c->counters.sampled_out;
  }
  for (auto& w : workers) summary.cache += w->cache->stats();
  summary.parse.by_status[0] = summary.frames - summary.parse.skipped();
  return summary;
}

}  // namespace netflowd
