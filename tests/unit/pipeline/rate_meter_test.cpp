// The rates of `netflowctl stat`: 4-s samples, and moving averages weighted 2/(N+1) for an
// N-sample window, computed here independently from the sampled totals.
#include "pipeline/rate_meter.hpp"

#include <gtest/gtest.h>

namespace netflowd {
namespace {

constexpr TimeUs kS = kUsPerSecond;

TEST(RateMeter, NothingIsMeasuredBeforeTwoSamplesFourSecondsApart) {
  RateMeter m;
  m.observe(100 * kS, {1000, 100000, 0, 0, 0, 0});
  EXPECT_FALSE(m.rates().measured);
  m.observe(103 * kS, {5000, 500000, 0, 0, 0, 0});  // 3 s later: too early
  EXPECT_FALSE(m.rates().measured);
  EXPECT_EQ(m.rates().in_pps, 0);
  EXPECT_EQ(m.rates().metric_1m, 1);
}

TEST(RateMeter, RatesAreTheDifferenceOverTheTimeBetweenSamples) {
  RateMeter m;
  m.observe(0, {1000, 100000, 5000, 0, 0, 0});
  // 5 s later (sampled late): 10,000 packets, 1,000,000 bytes, 50,000 bytes exported more.
  m.observe(5 * kS, {11000, 1100000, 55000, 30, 9000, 1000});
  const Rates& r = m.rates();
  ASSERT_TRUE(r.measured);
  EXPECT_DOUBLE_EQ(r.in_pps, 2000);
  EXPECT_DOUBLE_EQ(r.in_bps, 1600000);  // 1,000,000 bytes * 8 / 5 s
  EXPECT_DOUBLE_EQ(r.out_bytes_per_s, 10000);
  EXPECT_DOUBLE_EQ(r.metric, (30.0 + 10000) / 10000);
  // The averages start at the first measured rate.
  EXPECT_DOUBLE_EQ(r.in_pps_1m, 2000);
  EXPECT_DOUBLE_EQ(r.in_pps_5m, 2000);
  EXPECT_DOUBLE_EQ(r.metric_15m, r.metric);
}

TEST(RateMeter, AveragesFollowTheirWindows) {
  RateMeter m;
  TimeUs now = 0;
  std::uint64_t packets = 0;
  m.observe(now, {});
  // 100 s at 1,000 packets/s, then silence: each average decays by its own weight.
  double avg1 = 0, avg5 = 0;
  bool first = true;
  for (int i = 0; i < 100; ++i) {
    const double rate = i < 25 ? 1000 : 0;
    packets += static_cast<std::uint64_t>(rate * 4);
    now += 4 * kS;
    m.observe(now, {packets, packets * 100, 0, 0, packets, 0});
    avg1 = first ? rate : avg1 + (rate - avg1) * 2 / 16.0;  // 15 samples: one minute
    avg5 = first ? rate : avg5 + (rate - avg5) * 2 / 76.0;  // 75 samples: five minutes
    first = false;
    ASSERT_NEAR(m.rates().in_pps_1m, avg1, 1e-6) << "sample " << i;
    ASSERT_NEAR(m.rates().in_pps_5m, avg5, 1e-6) << "sample " << i;
    ASSERT_NEAR(m.rates().in_bps_1m, avg1 * 800, 1e-3) << "sample " << i;
  }
  EXPECT_EQ(m.rates().in_pps, 0);
  // After 75 samples of silence the one-minute average has all but forgotten the traffic, the
  // five-minute one still remembers a good part of it.
  EXPECT_LT(m.rates().in_pps_1m, 1);
  EXPECT_GT(m.rates().in_pps_5m, 100);
  EXPECT_LT(m.rates().in_pps_5m, 1000);
}

TEST(RateMeter, IdleIntervalsKeepTheMetricAtOneAndTotalsGoingBackCountAsNothing) {
  RateMeter m;
  m.observe(0, {500, 50000, 0, 10, 400, 100});
  m.observe(4 * kS, {500, 50000, 0, 10, 400, 100});
  EXPECT_EQ(m.rates().metric, 1);
  EXPECT_EQ(m.rates().in_pps, 0);
  m.observe(8 * kS, {100, 10000, 0, 0, 0, 0});  // a total below the last sample
  EXPECT_EQ(m.rates().in_pps, 0);
  EXPECT_EQ(m.rates().in_bps, 0);
  m.observe(12 * kS, {500, 50000, 0, 0, 0, 0});  // and counted again from where it went
  EXPECT_DOUBLE_EQ(m.rates().in_pps, 100);
}

}  // namespace
}  // namespace netflowd
