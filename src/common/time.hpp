// Time values used everywhere in netflowd.
//
// Logic never reads the system clock itself: the capture driver decides what "now" is
// (packet timestamps when replaying a capture, the real clock when live, a fake clock in
// tests) and passes it down as a TimeUs.
#pragma once

#include <cstdint>

namespace netflowd {

// Microseconds since the Unix epoch.
using TimeUs = std::int64_t;

inline constexpr TimeUs kUsPerMs = 1000;
inline constexpr TimeUs kUsPerSecond = 1000 * 1000;
// The last second a packet time may have (9999-12-31 23:59:59 UTC). Later ones come from
// corrupt input: in microseconds they would overflow the clock, and the timeouts added to it.
inline constexpr std::int64_t kLastSecond = 253'402'300'799;

constexpr TimeUs seconds_to_us(std::int64_t seconds) { return seconds * kUsPerSecond; }
constexpr std::int64_t us_to_ms(TimeUs t) { return t / kUsPerMs; }

}  // namespace netflowd
