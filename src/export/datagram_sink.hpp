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
  TimeUs time = 0;  // clock time at which the encoder sent it
};

// What happened to the datagrams, as the transport saw it.
struct ExportTotals {
  std::uint64_t datagrams = 0;  // handed to the transport
  std::uint64_t delivered = 0;  // reached at least one destination
  std::uint64_t delivered_bytes = 0;
  std::uint64_t flow_records = 0;    // in datagrams that reached at least one destination
  std::uint64_t lost_datagrams = 0;  // reached no destination
  std::uint64_t lost_flows = 0;
  std::uint64_t lost_packets = 0;
  std::uint64_t lost_bytes = 0;
  TimeUs first_lost = 0;
  TimeUs last_lost = 0;

  ExportTotals& operator+=(const ExportTotals& o) {
    datagrams += o.datagrams;
    delivered += o.delivered;
    delivered_bytes += o.delivered_bytes;
    flow_records += o.flow_records;
    if (o.lost_datagrams != 0) {
      if (lost_datagrams == 0) first_lost = o.first_lost;
      last_lost = o.last_lost;
    }
    lost_datagrams += o.lost_datagrams;
    lost_flows += o.lost_flows;
    lost_packets += o.lost_packets;
    lost_bytes += o.lost_bytes;
    return *this;
  }
};

class DatagramSink {
 public:
  virtual ~DatagramSink() = default;
  virtual void send(std::span<const std::uint8_t> datagram, const DatagramContents& contents) = 0;
  // Sends datagrams a sink may hold back to send several at once. Called at the end of each
  // burst of records and before totals() are read.
  virtual void flush() {}
  virtual ExportTotals totals() const { return {}; }
  // Picks up asynchronous delivery errors (ICMP from the destinations). Called periodically.
  virtual void poll_errors() {}
};

}  // namespace netflowd
