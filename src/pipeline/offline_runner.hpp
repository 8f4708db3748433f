// Meters a capture file from start to end: the --read mode.
//
// Packet timestamps drive the clock, so timeouts behave as they would have live. At the end
// every flow still in the cache is exported (reason forced_end) and the last datagram sent.
#pragma once

#include <vector>

#include "capture/capture_source.hpp"
#include "common/interface_info.hpp"
#include "control/config.hpp"
#include "export/datagram_sink.hpp"
#include "pipeline/run_summary.hpp"

namespace netflowd {

// How often (in capture time) the cache is swept for expired flows.
inline constexpr TimeUs kScanInterval = 100 * kUsPerMs;

// Runs the capture through parser, flow cache and encoder into `sink`.
// `interfaces` feeds the v9/IPFIX interface options records.
RunSummary run_offline(CaptureSource& source, const Config& config, DatagramSink& sink,
                       const std::vector<InterfaceInfo>& interfaces = {});

}  // namespace netflowd
