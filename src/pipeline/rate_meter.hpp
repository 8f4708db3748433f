// Traffic rates and their moving averages, as upstream's statistics show them (`Rate:` line,
// inBitRate / inPacketRate / outByteRate, the hash metric's 1/5/15-minute averages).
//
// Totals are sampled every kRateInterval (4 s, as upstream): a rate is the difference of two
// samples over the time between them, and each average is an exponentially weighted moving
// average with the weight 2/(N+1) of an N-sample window (N = 15 for one minute, 75 for five,
// 225 for fifteen). Unlike upstream, whose averages start from zero and take minutes to rise,
// every average starts at the first measured rate.
//
// Thread affinity: none; the caller serialises (LiveControl holds its mutex).
#pragma once

#include <cstdint>

#include "common/time.hpp"

namespace netflowd {

inline constexpr TimeUs kRateInterval = 4 * kUsPerSecond;

// Monotonic totals since start.
struct RateTotals {
  std::uint64_t in_packets = 0;  // metered
  std::uint64_t in_bytes = 0;
  std::uint64_t out_bytes = 0;  // export datagrams delivered to the sockets
  std::uint64_t searched = 0;   // FlowCacheStats::probes
  std::uint64_t found = 0;
  std::uint64_t created = 0;
};

struct Rates {
  bool measured = false;  // false until two samples are kRateInterval apart
  double in_pps = 0;      // over the last interval
  double in_bps = 0;      // bits per second
  double out_bytes_per_s = 0;
  double in_pps_1m = 0, in_bps_1m = 0;
  double in_pps_5m = 0, in_bps_5m = 0;
  double metric = 1;  // (searched + found + new) / (found + new) over the last interval; 1 if idle
  double metric_1m = 1, metric_5m = 1, metric_15m = 1;
};

class RateMeter {
 public:
  // Call as often as convenient; a sample is taken once kRateInterval has passed since the
  // last one. `now` on a monotonic clock.
  void observe(TimeUs now, const RateTotals& t) {
    if (!started_) {
      started_ = true;
      last_ = t;
      last_time_ = now;
      return;
    }
    if (now - last_time_ < kRateInterval) return;
    const double seconds = static_cast<double>(now - last_time_) / static_cast<double>(kUsPerSecond);
    // A total that went backwards (it cannot, but a restarted counter would) counts as no change.
    auto delta = [](std::uint64_t now_total, std::uint64_t before) {
      return now_total >= before ? static_cast<double>(now_total - before) : 0.0;
    };
    const double pps = delta(t.in_packets, last_.in_packets) / seconds;
    const double bps = delta(t.in_bytes, last_.in_bytes) * 8 / seconds;
    const double lookups = delta(t.found, last_.found) + delta(t.created, last_.created);
    const double metric = lookups == 0 ? 1.0 : (delta(t.searched, last_.searched) + lookups) / lookups;
    rates_.out_bytes_per_s = delta(t.out_bytes, last_.out_bytes) / seconds;
    rates_.in_pps = pps;
    rates_.in_bps = bps;
    rates_.metric = metric;
    const bool first = !rates_.measured;
    auto average = [first](double& avg, double value, double samples) {
      avg = first ? value : avg + (value - avg) * 2 / (samples + 1);
    };
    average(rates_.in_pps_1m, pps, kSamples1m);
    average(rates_.in_bps_1m, bps, kSamples1m);
    average(rates_.in_pps_5m, pps, kSamples5m);
    average(rates_.in_bps_5m, bps, kSamples5m);
    average(rates_.metric_1m, metric, kSamples1m);
    average(rates_.metric_5m, metric, kSamples5m);
    average(rates_.metric_15m, metric, kSamples15m);
    rates_.measured = true;
    last_ = t;
    last_time_ = now;
  }

  const Rates& rates() const { return rates_; }

 private:
  static constexpr double kSamples1m = 60.0 / 4;
  static constexpr double kSamples5m = 300.0 / 4;
  static constexpr double kSamples15m = 900.0 / 4;
  static_assert(kRateInterval == 4 * kUsPerSecond, "the window sizes above count 4-s samples");

  bool started_ = false;
  RateTotals last_;
  TimeUs last_time_ = 0;
  Rates rates_;
};

}  // namespace netflowd
