// The live daemon's threads:
//
//   worker thread (N, each owns a FlowCache shard and reads some of the sources): parse, key,
//       hash; meter the packets of its own flows at once, queue the others to their owner
//       (common/flow_shard.hpp) --ended flows--> export queues
//   export thread (one; encoder, sockets, options records)
//
// Sources are spread over the workers; an AF_PACKET ring whose fanout program already picks
// out one worker's flows goes to that worker, so its packets rarely cross threads. All queues
// are bounded single-producer single-consumer rings; no lock is taken on the packet path. A
// flow key always maps to the same worker, so no flow is split or counted twice across
// shards (with nflog_split=1 an NFLOG group's reader meters all of the group's packets, and
// the ruleset is trusted to keep each flow in one group). Shutdown (stop requested) drains
// the sources (what the kernel already queued, for at most 250 ms), lets every worker meter
// what others queued for it and export every flow still in its cache, then lets the export
// thread send all.
#pragma once

#include <memory>
#include <stop_token>
#include <vector>

#include "capture/capture_source.hpp"
#include "control/config.hpp"
#include "pipeline/live_control.hpp"
#include "pipeline/run_summary.hpp"

namespace netflowd {

struct LiveOptions {
  unsigned workers = 1;
  int export_cpu = -1;  // pin the export thread to this CPU (-1: no pinning)
  std::size_t queue_capacity = 8192;
  // nflog_split=1: the worker that reads an NFLOG group meters all of its packets (the
  // ruleset keeps each flow in one group), instead of handing each to its flow's owner.
  bool nflog_split = false;
};

// Blocks until `stop` is requested, then drains everything to the collectors and returns the
// totals. Sources are read by the worker threads. The configuration is read from
// `control` and followed when it changes (run-time parameters); statistics and flow dumps are
// published to it. Throws SetupError if the destinations cannot be set up.
RunSummary run_live(std::vector<std::unique_ptr<CaptureSource>>& sources, LiveControl& control,
                    const LiveOptions& options, std::stop_token stop);

}  // namespace netflowd
