// Where encoders put finished datagrams. Encoding is not sending: a transport implements
// this, and tests can implement it with a vector.
#pragma once

#include <cstdint>
#include <span>

#include "common/time.hpp"

namespace netflowd {

// What a datagram carries, for the sender's accounting (exported vs lost totals).
struct DatagramContents {
  std::uint32_t flow_records = 0;
  std::uint64_t packets = 0;  // sum of the flow records' packet counts
  std::uint64_t bytes = 0;
};

class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  virtual void send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) = 0;
};

}  // namespace netflowd
