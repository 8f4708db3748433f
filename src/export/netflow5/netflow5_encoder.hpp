// NetFlow v5 (reference section 1): a 24-byte header and up to 30 records of 48 bytes.
#pragma once

#include <array>
#include <cstdint>

#include "common/byte_writer.hpp"
#include "export/flow_encoder.hpp"

namespace netflowd {

class Netflow5Encoder final : public FlowEncoder {
 public:
  static constexpr std::size_t kHeaderSize = 24;
  static constexpr std::size_t kRecordSize = 48;
  static constexpr std::size_t kMaxRecords = 30;
  // v5 counters are 32-bit; the flow cache splits flows before they pass this.
  static constexpr std::uint64_t kCounterLimit = UINT32_MAX;

  Netflow5Encoder(const ExportConfig& config, DatagramSink& sink);

  void add(const FlowRecord& record, TimeUs now) override;
  void add_nat_event(const NatEvent& event, TimeUs now) override;
  void flush(TimeUs now) override;
  TimeUs pending_since() const override { return count_ == 0 ? -1 : pending_since_; }

 private:
  std::uint32_t uptime_ms(TimeUs t) const;
  // The next record's 48 bytes (the datagram is sent when full, after the record is written).
  ByteWriter next_record(TimeUs now);
  void record_done(TimeUs now, std::uint64_t packets, std::uint64_t bytes);

  ExportConfig config_;
  DatagramSink& sink_;
  std::array<std::uint8_t, kHeaderSize + kMaxRecords * kRecordSize> buffer_{};
  std::uint32_t count_ = 0;
  DatagramContents contents_;
  TimeUs pending_since_ = -1;
  // flow_sequence: records exported before this datagram (advanced even if sending fails).
  std::uint32_t sequence_ = 0;
};

}  // namespace netflowd
