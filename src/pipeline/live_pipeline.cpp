#include "pipeline/live_pipeline.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <random>
#include <thread>

#include "capture/netlink/interface_table.hpp"
#include "common/log.hpp"
#include "packet/apply_meta.hpp"
#include "packet/parser.hpp"
#include "pipeline/export_stage.hpp"
#include "pipeline/flow_cache_config.hpp"
#include "pipeline/spsc_queue.hpp"

namespace netflowd {
namespace {

constexpr TimeUs kScanInterval = 100 * kUsPerMs;
constexpr auto kIdleWait = std::chrono::milliseconds(100);
constexpr std::size_t kBatch = 256;
constexpr std::size_t kPrefetchBatch = 8;  // packets a worker hashes and prefetches at once
constexpr std::size_t kRingEvery = 64;
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

struct PacketItem {
  ParsedPacket packet;
  PacketMeta meta;
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

// Recognises the datagrams netflowd itself sends, should a capture see them. The export
// thread replaces the list when the destinations change; capture threads pick it up at their
// next publication.
class OwnExportFilter {
 public:
  struct Target {
    IpAddress address;
    std::uint16_t port;
    std::uint16_t local_port;
  };
  void set(std::vector<Target> targets) {
    std::lock_guard lock(mutex_);
    targets_ = std::move(targets);
    version_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::vector<Target> get() const {
    std::lock_guard lock(mutex_);
    return targets_;
  }
  static bool matches(const std::vector<Target>& targets, const ParsedPacket& p) {
    if (p.protocol != 17) return false;
    for (const auto& t : targets) {
      if (p.dst_port == t.port && p.src_port == t.local_port && p.family == t.address.family &&
          std::equal(p.dst.begin(), p.dst.begin() + (p.family == IpFamily::v6 ? 16 : 4), t.address.bytes.begin())) {
        return true;
      }
    }
    return false;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Target> targets_;
  std::atomic<std::uint64_t> version_{0};
};

struct Capture {
  CaptureSource* source;
  CaptureSnapshot counters;
  std::vector<std::unique_ptr<SpscQueue<PacketItem>>> to_worker;  // one per worker
};

struct Worker {
  std::unique_ptr<FlowCache> cache;
  std::unique_ptr<SpscQueue<FlowRecord>> to_exporter;
  Doorbell bell;
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
  return a.destinations != b.destinations || a.sndbuf != b.sndbuf || a.export_rate != b.export_rate;
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

  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<std::int64_t> live_flows{0};  // all shards together, for maxflows
  for (unsigned w = 0; w < nworkers; ++w) {
    auto worker = std::make_unique<Worker>();
    worker->cache = std::make_unique<FlowCache>(flow_cache_config(initial));
    if (nworkers > 1) worker->cache->share_flow_count(&live_flows);
    worker->to_exporter = std::make_unique<SpscQueue<FlowRecord>>(options.queue_capacity);
    workers.push_back(std::move(worker));
  }
  std::vector<std::unique_ptr<Capture>> captures;
  for (auto& s : sources) {
    auto c = std::make_unique<Capture>();
    c->source = s.get();
    c->counters.name = s->name();
    for (unsigned w = 0; w < nworkers; ++w) {
      c->to_worker.push_back(std::make_unique<SpscQueue<PacketItem>>(options.queue_capacity));
    }
    captures.push_back(std::move(c));
  }
  std::atomic<unsigned> captures_running{static_cast<unsigned>(captures.size())};
  Doorbell export_bell;

  auto capture_loop = [&](std::size_t index) {
    Capture& c = *captures[index];
    CaptureSnapshot& n = c.counters;
    CapturedFrame frame;
    PacketItem item;
    const LinkType link = c.source->link_type();
    // The key options decide the shard; they only change with a flush, which all threads see.
    FlowKeyOptions key_options = flow_cache_config(control.config()).key_options;
    std::shared_ptr<const AggregationRules> aggregation = control.config().aggregation_rules;
    SamplerConfig sampler = control.config().sampler;
    const std::uint64_t sampler_seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
    n.aggregation_usage.assign(aggregation ? aggregation->size() : 0, 0);
    std::uint64_t config_seen = control.config_version();
    std::vector<OwnExportFilter::Target> own = own_export.get();
    std::uint64_t own_seen = own_export.version();
    auto publish = [&] {
      const CaptureStats& kernel = c.source->stats();
      n.source_drops = kernel.source_drops;
      n.source_overruns = kernel.overruns;
      control.publish_capture(index, n);
      if (own_export.version() != own_seen) {
        own_seen = own_export.version();
        own = own_export.get();
      }
      if (control.config_version() != config_seen) {
        config_seen = control.config_version();
        const Config now_config = control.config();
        key_options = flow_cache_config(now_config).key_options;
        sampler = now_config.sampler;
        if (now_config.aggregation_rules != aggregation) {
          aggregation = now_config.aggregation_rules;
          n.aggregation_usage.assign(aggregation ? aggregation->size() : 0, 0);
        }
      }
    };
    // After stop, what the kernel already queued for us (NFLOG batches, ring blocks) is still
    // read and metered until the source is empty, for at most kDrainTime: SIGTERM does not
    // lose packets the kernel had already delivered, and traffic that keeps coming cannot hold
    // the shutdown up.
    std::vector<char> unrung(nworkers, 0);  // workers with packets queued since their last wake-up
    std::size_t pushed_unrung = 0;
    auto ring_workers = [&] {
      for (std::size_t i = 0; i < nworkers; ++i) {
        if (unrung[i]) workers[i]->bell.ring();
        unrung[i] = false;
      }
      pushed_unrung = 0;
    };
    bool draining = false;
    std::chrono::steady_clock::time_point drain_deadline{};
    for (;;) {
      if (!draining && stop.stop_requested()) {
        draining = true;
        drain_deadline = std::chrono::steady_clock::now() + kDrainTime;
      }
      if (draining && std::chrono::steady_clock::now() > drain_deadline) break;
      // Workers are woken once per batch the kernel delivered (an NFLOG receive, a ring
      // block), not once per packet: before anything that may wait for the kernel.
      if (pushed_unrung != 0 && !c.source->has_buffered()) ring_workers();
      const NextResult rc = c.source->next(frame);
      if (rc == NextResult::idle) {
        publish();
        if (draining) break;
        continue;
      }
      if (rc != NextResult::frame) {
        if (rc == NextResult::error) log_message(LOG_ERR, "%s", c.source->error().c_str());
        break;
      }
      if (++n.frames % kPublishEvery == 0) publish();
      const ParseStatus status = parse_packet(link, frame.bytes, frame.wire_length, item.packet);
      if (status != ParseStatus::ok) {
        n.parse.count(status);
        shared.ignore(std::min<std::uint64_t>(frame.wire_length, frame.bytes.size()), frame.meta.timestamp);
        continue;
      }
      n.parse.count(ParseStatus::ok);
      apply_capture_meta(frame.meta, item.packet);
      if (OwnExportFilter::matches(own, item.packet)) {
        ++n.own_export;
        continue;
      }
      if (aggregation) aggregation->apply(item.packet, n.aggregation_usage);
      item.meta = frame.meta;
      const std::uint64_t key_hash = hash_flow_key(pack_flow_key(item.packet, item.meta.in_ifindex, key_options));
      if (sampler.mode == SamplerMode::hash && !hash_selects(key_hash, sampler_seed, sampler.interval)) {
        ++n.sampled_out;  // observed, deliberately not metered
        shared.sampled_out.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const std::size_t shard = (key_hash >> 40) % nworkers;
      bool queued = c.to_worker[shard]->push(item);
      // A full queue (the worker is catching up, after a stall or a burst): wake it and wait
      // a little, so that the backlog stays in the kernel's buffer (which the kernel counts
      // when it overflows) rather than being dropped here.
      for (int wait = 0; !queued && wait < kFullQueueWaits; ++wait) {
        workers[shard]->bell.ring();
        std::this_thread::sleep_for(kFullQueueWait);
        queued = c.to_worker[shard]->push(item);
      }
      if (queued) {
        unrung[shard] = true;
        if (++pushed_unrung >= kRingEvery) ring_workers();
      } else {
        ++n.queue_drops;
        shared.ignore(item.packet.ip_length, item.meta.timestamp);
      }
    }
    ring_workers();
    publish();
    if (captures_running.fetch_sub(1) == 1) {
      for (auto& w : workers) w->bell.ring();
    }
  };

  auto worker_loop = [&](unsigned index) {
    Worker& w = *workers[index];
    std::vector<FlowRecord> ended;
    struct Pending {
      PacketItem item;
      PackedFlowKey key;
      std::uint64_t hash = 0;
    };
    std::vector<Pending> items(kPrefetchBatch);
    TimeUs next_scan = 0;
    std::uint64_t reported_created = 0;
    std::uint64_t reported_packets = 0;
    std::uint64_t config_seen = control.config_version();
    SamplerConfig control_sampler = control.config().sampler;
    std::uint64_t flush_seen = control.flush_generation();
    std::uint64_t dump_seen = control.dump_generation();
    auto has_work = [&] {
      for (auto& c : captures) {
        if (!c->to_worker[index]->empty()) return true;
      }
      return captures_running.load() == 0;
    };
    auto hand_over = [&] {
      for (const FlowRecord& r : ended) {
        // Never lose a flow: wait for the export thread rather than drop.
        while (!w.to_exporter->push(r)) {
          export_bell.ring();
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
      if (!ended.empty()) export_bell.ring();
      ended.clear();
    };
    auto publish = [&] {
      const std::uint64_t created = w.cache->stats().flows_created;
      shared.flows_created.fetch_add(created - reported_created, std::memory_order_relaxed);
      shared.metered_packets.fetch_add(w.cache->stats().packets - reported_packets, std::memory_order_relaxed);
      reported_packets = w.cache->stats().packets;
      reported_created = created;
      control.publish_worker(
          index, WorkerSnapshot{w.cache->stats(), w.cache->size(), w.cache->memory_bytes(), w.cache->index_capacity()});
    };
    // Run-time changes, flushes and dumps are looked at once per scan, never per packet.
    auto follow_control = [&] {
      if (control.config_version() != config_seen) {
        config_seen = control.config_version();
        const FlowCacheConfig next = flow_cache_config(control.config());
        const FlowCacheConfig& now_cfg = w.cache->config();
        if (next.key_options.mac != now_cfg.key_options.mac || control_sampler != control.config().sampler ||
            next.key_options.mpls_labels != now_cfg.key_options.mpls_labels ||
            next.counter_limit != now_cfg.counter_limit) {
          w.cache->flush(ended, FlowEndReason::forced_end);  // flows keyed the old way end here
        }
        w.cache->reconfigure(next);
        control_sampler = control.config().sampler;
      }
      if (control.flush_generation() != flush_seen) {
        flush_seen = control.flush_generation();
        w.cache->flush(ended, FlowEndReason::forced_end);
      }
      if (control.dump_generation() != dump_seen) {
        dump_seen = control.dump_generation();
        std::vector<FlowRecord> flows;
        flows.reserve(w.cache->size());
        w.cache->for_each([&](const FlowRecord& r) { flows.push_back(r); });
        control.deliver_dump(dump_seen, flows);
      }
    };
    for (;;) {
      std::size_t n = 0;
      for (auto& c : captures) {
        auto& q = *c->to_worker[index];
        // A few packets at a time: hash them and prefetch their index slots, then their
        // entries, then meter them, so that the cache misses of a batch overlap.
        for (std::size_t k = 0; k < kBatch;) {
          std::size_t got = 0;
          while (got < kPrefetchBatch && k < kBatch && q.pop(items[got].item)) {
            Pending& p = items[got++];
            ++k;
            p.key = w.cache->key_of(p.item.packet, p.item.meta.in_ifindex);
            p.hash = hash_flow_key(p.key);
            w.cache->prefetch_index(p.hash);
          }
          if (got == 0) break;
          for (std::size_t i = 0; i < got; ++i) w.cache->prefetch_entry(items[i].hash);
          for (std::size_t i = 0; i < got; ++i) {
            const PacketItem& it = items[i].item;
            if (w.cache->meter(it.packet, it.meta, items[i].key, items[i].hash, ended) ==
                MeterResult::dropped_maxflows) {
              shared.ignore(it.packet.ip_length, it.meta.timestamp);
            }
          }
          n += got;
        }
      }
      const TimeUs now = wall_clock_now();
      if (now >= next_scan) {
        next_scan = now + kScanInterval;
        follow_control();
        w.cache->expire(now, ended);
        publish();
      }
      hand_over();
      if (n == 0) {
        if (captures_running.load() == 0) {
          bool drained = true;
          for (auto& c : captures) drained = drained && c->to_worker[index]->empty();
          if (drained) break;
        } else {
          w.bell.wait(has_work, kIdleWait);
        }
      }
    }
    w.cache->flush(ended, FlowEndReason::forced_end);
    hand_over();
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
    stage->finish(wall_clock_now());
    const ExporterSnapshot s = publish();
    summary.encoder = s.encoder;
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
    for (std::size_t c = 0; c < captures.size(); ++c) threads.emplace_back(capture_loop, c);
  }  // joins: captures stop on `stop`, workers drain, the exporter sends everything

  for (auto& c : captures) {
    summary.frames += c->counters.frames;
    summary.parse += c->counters.parse;
    summary.own_export += c->counters.own_export;
    summary.queue_drops += c->counters.queue_drops;
    summary.source_drops += c->counters.source_drops;
    summary.sampled_out += c->counters.sampled_out;
  }
  for (auto& w : workers) summary.cache += w->cache->stats();
  summary.parse.by_status[0] = summary.frames - summary.parse.skipped();
  return summary;
}

}  // namespace netflowd
