#include "pipeline/live_pipeline.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "capture/netlink/interface_table.hpp"
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

TimeUs wall_clock_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<TimeUs>(ts.tv_sec) * kUsPerSecond + ts.tv_nsec / 1000;
}

struct PacketItem {
  ParsedPacket packet;
  PacketMeta meta;
};

// Counters a thread publishes for others (the export thread's options records).
struct SharedCounters {
  std::atomic<std::uint64_t> ignored_packets{0};
  std::atomic<std::uint64_t> ignored_bytes{0};
  std::atomic<TimeUs> first_ignored{0};
  std::atomic<TimeUs> last_ignored{0};
  std::atomic<std::uint64_t> flows_created{0};

  void ignore(std::uint64_t bytes, TimeUs now) {
    ignored_packets.fetch_add(1, std::memory_order_relaxed);
    ignored_bytes.fetch_add(bytes, std::memory_order_relaxed);
    TimeUs zero = 0;
    first_ignored.compare_exchange_strong(zero, now, std::memory_order_relaxed);
    last_ignored.store(now, std::memory_order_relaxed);
  }
};

// One capture thread's state.
struct Capture {
  CaptureSource* source;
  ParseCounters parse;
  std::uint64_t frames = 0;
  std::uint64_t own_export = 0;                                   // netflowd's own export datagrams, never metered
  std::uint64_t queue_drops = 0;                                  // a worker queue was full
  std::vector<std::unique_ptr<SpscQueue<PacketItem>>> to_worker;  // one per worker
};

struct Worker {
  std::unique_ptr<FlowCache> cache;
  std::unique_ptr<SpscQueue<FlowRecord>> to_exporter;
  Doorbell bell;
  std::atomic<bool> done{false};
};

// Recognises the datagrams netflowd itself sends, in case a capture sees them.
class OwnExportFilter {
 public:
  explicit OwnExportFilter(const UdpExporter& exporter) {
    for (std::size_t i = 0; i < exporter.size(); ++i) {
      targets_.push_back({exporter.destination(i).address, exporter.destination(i).port, exporter.local_port(i)});
    }
  }
  bool matches(const ParsedPacket& p) const {
    if (p.protocol != 17) return false;
    for (const auto& t : targets_) {
      if (p.dst_port == t.port && p.src_port == t.local_port && p.family == t.address.family &&
          std::equal(p.dst.begin(), p.dst.begin() + (p.family == IpFamily::v6 ? 16 : 4), t.address.bytes.begin())) {
        return true;
      }
    }
    return false;
  }

 private:
  struct Target {
    IpAddress address;
    std::uint16_t port;
    std::uint16_t local_port;
  };
  std::vector<Target> targets_;
};

void pin_to_cpu(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  // An invalid or offline CPU disables pinning, as upstream's exportcpu does.
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

RunSummary run_live(std::vector<std::unique_ptr<CaptureSource>>& sources, const Config& config, UdpExporter& exporter,
                    const LiveOptions& options, std::stop_token stop) {
  const unsigned nworkers = std::max(1u, options.workers);
  const FlowCacheConfig cache_config = flow_cache_config(config);
  const OwnExportFilter own_export(exporter);
  const TimeUs start = wall_clock_now();
  SharedCounters shared;

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned w = 0; w < nworkers; ++w) {
    auto worker = std::make_unique<Worker>();
    worker->cache = std::make_unique<FlowCache>(cache_config);
    worker->to_exporter = std::make_unique<SpscQueue<FlowRecord>>(options.queue_capacity);
    workers.push_back(std::move(worker));
  }
  std::vector<std::unique_ptr<Capture>> captures;
  for (auto& s : sources) {
    auto c = std::make_unique<Capture>();
    c->source = s.get();
    for (unsigned w = 0; w < nworkers; ++w) {
      c->to_worker.push_back(std::make_unique<SpscQueue<PacketItem>>(options.queue_capacity));
    }
    captures.push_back(std::move(c));
  }
  std::atomic<unsigned> captures_running{static_cast<unsigned>(captures.size())};
  Doorbell export_bell;

  auto capture_loop = [&](Capture& c) {
    CapturedFrame frame;
    PacketItem item;
    const LinkType link = c.source->link_type();
    while (!stop.stop_requested()) {
      const NextResult rc = c.source->next(frame);
      if (rc == NextResult::idle) continue;
      if (rc != NextResult::frame) {
        if (rc == NextResult::error) std::fprintf(stderr, "netflowd: %s\n", c.source->error().c_str());
        break;
      }
      ++c.frames;
      const ParseStatus status = parse_packet(link, frame.bytes, frame.wire_length, item.packet);
      if (status != ParseStatus::ok) {
        c.parse.count(status);
        shared.ignore(std::min<std::uint64_t>(frame.wire_length, frame.bytes.size()), frame.meta.timestamp);
        continue;
      }
      apply_capture_meta(frame.meta, item.packet);
      if (own_export.matches(item.packet)) {
        ++c.own_export;
        continue;
      }
      item.meta = frame.meta;
      const FlowKey key = make_flow_key(item.packet, item.meta.in_ifindex, cache_config.key_options);
      const std::size_t shard = (hash_flow_key(key) >> 40) % nworkers;
      if (c.to_worker[shard]->push(item)) {
        workers[shard]->bell.ring();
      } else {
        ++c.queue_drops;
        shared.ignore(item.packet.ip_length, item.meta.timestamp);
      }
    }
    if (captures_running.fetch_sub(1) == 1) {
      for (auto& w : workers) w->bell.ring();
    }
  };

  auto worker_loop = [&](unsigned index) {
    Worker& w = *workers[index];
    std::vector<FlowRecord> ended;
    PacketItem item;
    TimeUs next_scan = 0;
    std::uint64_t reported_created = 0;
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
    for (;;) {
      std::size_t n = 0;
      for (auto& c : captures) {
        auto& q = *c->to_worker[index];
        for (std::size_t k = 0; k < kBatch && q.pop(item); ++k, ++n) {
          if (w.cache->meter(item.packet, item.meta, ended) == MeterResult::dropped_maxflows) {
            shared.ignore(item.packet.ip_length, item.meta.timestamp);
          }
        }
      }
      const TimeUs now = wall_clock_now();
      if (now >= next_scan) {
        w.cache->expire(now, ended);
        next_scan = now + kScanInterval;
        const std::uint64_t created = w.cache->stats().flows_created;
        shared.flows_created.fetch_add(created - reported_created, std::memory_order_relaxed);
        reported_created = created;
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
    shared.flows_created.fetch_add(w.cache->stats().flows_created - reported_created, std::memory_order_relaxed);
    w.done.store(true);
    export_bell.ring();
  };

  RunSummary summary;
  auto export_loop = [&] {
    pin_to_cpu(options.export_cpu);
    ExportStage stage(config, exporter, start);
    std::unique_ptr<InterfaceWatcher> watcher;
    try {
      stage.set_interfaces(read_interfaces());
      watcher = std::make_unique<InterfaceWatcher>();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "netflowd: interface table unavailable: %s\n", e.what());
    }
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
          stage.add(r, now);
          ++n;
        }
      }
      if (now >= next_tick) {
        next_tick = now + kScanInterval;
        if (watcher && watcher->changed()) {
          try {
            stage.set_interfaces(read_interfaces());
          } catch (const std::exception&) {
            // keep the previous table
          }
        }
        MeteringTotals m;
        m.observed_flows = shared.flows_created.load(std::memory_order_relaxed);
        m.ignored_packets = shared.ignored_packets.load(std::memory_order_relaxed);
        m.ignored_bytes = shared.ignored_bytes.load(std::memory_order_relaxed);
        m.first_ignored = shared.first_ignored.load(std::memory_order_relaxed);
        m.last_ignored = shared.last_ignored.load(std::memory_order_relaxed);
        stage.tick(now, m);
      }
      if (n == 0) {
        bool all_done = true;
        for (auto& w : workers) all_done = all_done && w->done.load() && w->to_exporter->empty();
        if (all_done) break;
        export_bell.wait(has_work, kIdleWait);
      }
    }
    stage.finish(wall_clock_now());
    summary.encoder = stage.stats();
  };

  {
    std::vector<std::jthread> threads;
    threads.emplace_back(export_loop);
    for (unsigned w = 0; w < nworkers; ++w) threads.emplace_back(worker_loop, w);
    for (auto& c : captures) threads.emplace_back(capture_loop, std::ref(*c));
  }  // joins: captures stop on `stop`, workers drain, the exporter sends everything

  for (auto& c : captures) {
    summary.frames += c->frames;
    summary.parse += c->parse;
    summary.own_export += c->own_export;
    summary.queue_drops += c->queue_drops;
    summary.source_drops += c->source->stats().source_drops;
  }
  for (auto& w : workers) summary.cache += w->cache->stats();
  summary.parse.by_status[0] = summary.frames - summary.parse.skipped();
  return summary;
}

}  // namespace netflowd
