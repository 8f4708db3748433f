// NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) encoder: data templates per record shape,
// options templates and records (reference 2.11), template refresh.
//
// Thread affinity: one encoder per export thread.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "export/flow_encoder.hpp"
#include "export/template/message_writer.hpp"

namespace netflowd {

class TemplateEncoder final : public FlowEncoder {
 public:
  // Options records are re-sent on upstream's schedule.
  static constexpr TimeUs kStatisticsInterval = 60 * kUsPerSecond;
  static constexpr TimeUs kDescriptionInterval = 300 * kUsPerSecond;

  TemplateEncoder(Dialect dialect, const ExportConfig& config, DatagramSink& sink);

  void add(const FlowRecord& record, TimeUs now) override;
  void add_nat_event(const NatEvent& event, TimeUs now) override;
  void flush(TimeUs now) override;
  TimeUs pending_since() const override { return writer_.empty() ? -1 : pending_since_; }
  void tick(TimeUs now, const ExportContext& context) override;

  // Forgets every template; the next use of each shape gets a new id (as on a protocol or
  // destination change upstream).
  void reset_templates();

 private:
  struct TemplateState {
    WireTemplate wire;
    bool sent = false;
    std::uint64_t sent_in_message = 0;
    TimeUs sent_at = 0;
  };
  enum OptionsKind : std::size_t {
    kSystemInit,
    kSampling,
    kInterfaces,
    kMeteringStats,
    kMeteringReliability,
    kExportingReliability,
    kSelectorStats,
    kOptionsKinds
  };

  std::uint16_t next_template_id();
  bool template_due(const TemplateState& t, TimeUs now) const;
  void send_template(TemplateState& t, TimeUs now);
  // Appends one data record of template `t`, starting a new set (with the template first if
  // it is due) and a new message as needed. Returns a writer for the record's bytes.
  ByteWriter append(TemplateState& t, TimeUs now, bool flow_record, const DatagramContents& adds);
  TemplateState& options_template(OptionsKind kind);
  void emit_options(TimeUs now, const ExportContext& context, bool descriptions, bool statistics);

  Dialect dialect_;
  ExportConfig config_;
  MessageWriter writer_;
  RecordClock clock_;
  std::unordered_map<std::uint32_t, TemplateState> data_templates_;  // by shape
  // The last record's shape and template: consecutive records mostly share one, and finding it
  // in the map (a division by the bucket count) cost more than writing the record.
  static constexpr std::uint32_t kNoShape = ~std::uint32_t{0};
  std::uint32_t last_shape_ = kNoShape;
  TemplateState* last_template_ = nullptr;
  std::array<TemplateState, kOptionsKinds> options_{};
  TemplateState nat_;  // the NAT event template (reference §4.1); its id is taken at first use
  std::uint16_t last_template_id_;
  TimeUs pending_since_ = -1;
  bool first_tick_ = true;
  TimeUs next_statistics_ = 0;
  TimeUs next_descriptions_ = 0;
  std::uint64_t interfaces_generation_ = 0;
};

}  // namespace netflowd
