#include "export/template/template_encoder.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "export/information_elements.hpp"

namespace netflowd {
namespace {

// Options templates carry fixed values, not flow fields; their FieldKind is not used.
TemplateField option_field(const ie::InformationElement& e) {
  return TemplateField{e.id, e.length, FieldKind::protocol};
}

WireTemplate options_wire(std::initializer_list<ie::InformationElement> elements) {
  WireTemplate t;
  for (const auto& e : elements) t.fields.push_back(option_field(e));
  t.scope_count = 1;  // the first element is the scope
  t.record_length = record_length(t.fields);
  return t;
}

void put_string(ByteWriter& w, std::string_view s, std::size_t length) {
  // NUL-padded; always NUL-terminated, as upstream's collectors expect.
  const std::size_t n = std::min(s.size(), length - 1);
  w.put_bytes(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), n));
  w.put_zeros(length - n);
}

std::uint64_t ms(TimeUs t) { return static_cast<std::uint64_t>(us_to_ms(t)); }

}  // namespace

TemplateEncoder::TemplateEncoder(Dialect dialect, const ExportConfig& config, DatagramSink& sink)
    : dialect_(dialect),
      config_(config),
      writer_(dialect, config.engine_id, config.boot_time, config.payload_size, sink),
      clock_{config.boot_time},
      last_template_id_(static_cast<std::uint16_t>(std::max<int>(config.first_template_id, 256) - 1)) {
  using namespace ie;
  options_[kSystemInit].wire = options_wire({kObservationDomainId, kSystemInitTimeMilliseconds, kObservationDomainName,
                                             kFlowStartMilliseconds, kFlowEndMilliseconds});
  // The sampling announcement (reference 2.11 SAMPLER / SEL_COUNT / SEL_RAND, RFC 7014).
  const SamplerConfig& sampler = config_.sampler;
  if (sampler.mode == SamplerMode::none) {
    options_[kSampling].wire = options_wire({kObservationDomainId, kSamplingInterval, kSamplingAlgorithm});
  } else if (dialect_ == Dialect::netflow9) {
    options_[kSampling].wire = options_wire({kObservationDomainId, kSamplerId, kSamplerMode, kSamplerRandomInterval});
  } else if (sampler.mode == SamplerMode::deterministic) {
    options_[kSampling].wire = options_wire(
        {kObservationDomainId, kSelectorId, kFlowSelectorAlgorithm, kSamplingFlowInterval, kSamplingFlowSpacing});
  } else {
    options_[kSampling].wire =
        options_wire({kObservationDomainId, kSelectorId, kFlowSelectorAlgorithm, kSamplingSize, kSamplingPopulation});
  }
  options_[kInterfaces].wire =
      options_wire({kObservationDomainId, kIngressInterface, kInterfaceName, kInterfaceDescription});
  options_[kMeteringStats].wire =
      options_wire({kObservationDomainId, kExportedMessageTotalCount, kExportedFlowRecordTotalCount,
                    kExportedOctetTotalCount, kObservedFlowTotalCount});
  options_[kMeteringReliability].wire =
      options_wire({kObservationDomainId, kIgnoredPacketTotalCount, kIgnoredOctetTotalCount, kFlowStartMilliseconds,
                    kFlowEndMilliseconds});
  // IPFIX selector statistics (reference 2.11 SEL_STAT / SEL_STATH): scope is the selector.
  if (sampler.mode == SamplerMode::hash) {
    options_[kSelectorStats].wire =
        options_wire({kSelectorId, kSelectorIdTotalPktsObserved, kSelectorIdTotalPktsSelected, kFlowStartMilliseconds,
                      kFlowEndMilliseconds});
  } else {
    options_[kSelectorStats].wire = options_wire(
        {kSelectorId, kSelectorIdTotalFlowsObserved, kSelectorIdTotalFlowsSelected, kSelectorIdTotalPktsObserved,
         kSelectorIdTotalPktsSelected, kFlowStartMilliseconds, kFlowEndMilliseconds});
  }
  // The NAT event template, the same in v9 and IPFIX.
  for (const auto& e :
       {kObservationTimeMilliseconds, kSourceIPv4Address, kDestinationIPv4Address, kPostNatSourceIPv4Address,
        kPostNatDestinationIPv4Address, kSourceTransportPort, kDestinationTransportPort, kPostNaptSourceTransportPort,
        kPostNaptDestinationTransportPort, kProtocolIdentifier, kNatEvent}) {
    nat_.wire.fields.push_back(option_field(e));
  }
  nat_.wire.record_length = record_length(nat_.wire.fields);
  options_[kExportingReliability].wire =
      options_wire({kExportingProcessId, kNotSentFlowTotalCount, kNotSentPacketTotalCount, kNotSentOctetTotalCount,
                    kFlowStartMilliseconds, kFlowEndMilliseconds});
}

std::uint16_t TemplateEncoder::next_template_id() {
  // Ids 256..65535, then around again (upstream); a collector sees new ids for new shapes.
  last_template_id_ = last_template_id_ == 0xffff ? 256 : static_cast<std::uint16_t>(last_template_id_ + 1);
  ++stats_.templates;
  return last_template_id_;
}

void TemplateEncoder::reset_templates() {
  data_templates_.clear();
  last_shape_ = kNoShape;
  last_template_ = nullptr;
  for (auto& o : options_) o.wire.id = 0, o.sent = false;
  nat_.wire.id = 0;
  nat_.sent = false;
  first_tick_ = true;
}

bool TemplateEncoder::template_due(const TemplateState& t, TimeUs now) const {
  if (!t.sent) return true;
  if (writer_.messages() - t.sent_in_message > config_.refresh_rate) return true;
  return config_.timeout_rate != 0 && now - t.sent_at >= config_.timeout_rate * 60 * kUsPerSecond;
}

void TemplateEncoder::send_template(TemplateState& t, TimeUs now) {
  if (!writer_.fits(MessageWriter::template_set_size(t.wire))) flush(now);
  if (writer_.empty()) pending_since_ = now;
  writer_.add_template(t.wire);
  t.sent = true;
  t.sent_in_message = writer_.messages();
  t.sent_at = now;
}

ByteWriter TemplateEncoder::append(TemplateState& t, TimeUs now, bool flow_record, const DatagramContents& adds) {
  const std::size_t len = t.wire.record_length;
  if (!(writer_.in_data_set(t.wire.id) && writer_.fits_append(len))) {
    // A new data set, with its template in front when due; the template and its first record
    // always travel in the same message.
    bool due = template_due(t, now);
    const std::size_t set = 4 + ((len + 3) & ~std::size_t{3});
    if (!writer_.fits((due ? MessageWriter::template_set_size(t.wire) : 0) + set)) {
      flush(now);
      due = template_due(t, now);
    }
    if (due) send_template(t, now);
    if (writer_.empty()) pending_since_ = now;  // before begin_data_set() makes it non-empty
    writer_.begin_data_set(t.wire.id);
  }
  return writer_.record(len, flow_record, adds);
}

void TemplateEncoder::add(const FlowRecord& r, TimeUs now) {
  const std::uint32_t shape = shape_of(r, config_.features);
  if (shape != last_shape_) {
    auto [it, created] = data_templates_.try_emplace(shape);
    TemplateState& t = it->second;
    if (created) {
      t.wire.fields = template_fields(shape, dialect_, config_.features);
      t.wire.record_length = record_length(t.wire.fields);
      t.wire.program = compile_record(t.wire.fields);
      t.wire.id = next_template_id();
    }
    last_shape_ = shape;
    last_template_ = &t;  // the map's elements stay where they are as it grows
  }
  TemplateState& t = *last_template_;
  ByteWriter w = append(t, now, true, DatagramContents{1, r.packets, r.bytes});
  write_data_record(w, t.wire.fields, t.wire.program, r, clock_);
  ++stats_.records;
  stats_.packets += r.packets;
  stats_.bytes += r.bytes;
}

void TemplateEncoder::add_nat_event(const NatEvent& e, TimeUs now) {
  if (nat_.wire.id == 0) nat_.wire.id = next_template_id();
  ByteWriter w = append(nat_, now, true, DatagramContents{1, 0, 0});
  w.put_u64(ms(e.time));  // observationTimeMilliseconds
  w.put_bytes(e.pre.src);
  w.put_bytes(e.pre.dst);
  w.put_bytes(e.post.src);  // postNATSourceIPv4Address
  w.put_bytes(e.post.dst);  // postNATDestinationIPv4Address
  w.put_u16(e.pre.src_port);
  w.put_u16(e.pre.dst_port);
  w.put_u16(e.post.src_port);  // postNAPTSourceTransportPort
  w.put_u16(e.post.dst_port);  // postNAPTDestinationTransportPort
  w.put_u8(e.protocol);
  w.put_u8(static_cast<std::uint8_t>(e.type));  // natEvent
  ++stats_.records;
  ++stats_.nat_events;
}

void TemplateEncoder::flush(TimeUs now) {
  if (writer_.empty()) return;
  writer_.send(now);
  ++stats_.datagrams;
  pending_since_ = -1;
}

TemplateEncoder::TemplateState& TemplateEncoder::options_template(OptionsKind kind) {
  TemplateState& t = options_[kind];
  if (t.wire.id == 0) t.wire.id = next_template_id();
  return t;
}

void TemplateEncoder::emit_options(TimeUs now, const ExportContext& ctx, bool descriptions, bool statistics) {
  const std::uint32_t domain = config_.engine_id;
  auto record = [&](OptionsKind kind) {
    TemplateState& t = options_template(kind);
    ++stats_.options_records;
    return append(t, now, false, {});
  };
  if (descriptions) {
    {
      ByteWriter w = record(kSystemInit);
      w.put_u32(domain);
      w.put_u64(ms(config_.boot_time));  // systemInitTimeMilliseconds: zero of sysUpTime
      put_string(w, config_.observation_domain_name, ie::kObservationDomainName.length);
      w.put_u64(ms(config_.start_time));
      w.put_u64(ms(now));
    }
    {
      // Sampling is always announced, interval 1 when every flow is exported: common
      // collectors treat flows without a known rate as unusable.
      ByteWriter w = record(kSampling);
      w.put_u32(domain);
      const SamplerConfig& sampler = config_.sampler;
      const auto id = static_cast<std::uint8_t>(sampler.mode);  // 1 deterministic, 2 random, 3 hash
      if (sampler.mode == SamplerMode::none) {
        w.put_u32(1);  // samplingInterval: every flow
        w.put_u8(1);   // samplingAlgorithm: deterministic
      } else if (dialect_ == Dialect::netflow9) {
        w.put_u8(id);                                             // samplerId
        w.put_u8(sampler.signalled_mode());                       // samplerMode (hash as random)
        w.put_u16(static_cast<std::uint16_t>(sampler.interval));  // samplerRandomInterval
      } else if (sampler.mode == SamplerMode::deterministic) {
        w.put_u8(id);                     // selectorId
        w.put_u16(1);                     // flowSelectorAlgorithm: systematic count-based (RFC 7014)
        w.put_u64(1);                     // samplingFlowInterval: 1 flow selected...
        w.put_u64(sampler.interval - 1);  // samplingFlowSpacing: ...then N-1 skipped (upstream: N)
      } else {
        w.put_u8(id);                 // selectorId
        w.put_u16(3);                 // flowSelectorAlgorithm: random n-out-of-N
        w.put_u32(1);                 // samplingSize
        w.put_u32(sampler.interval);  // samplingPopulation
      }
    }
    if (ctx.interfaces != nullptr) {
      for (const InterfaceInfo& i : *ctx.interfaces) {
        ByteWriter w = record(kInterfaces);
        w.put_u32(domain);
        w.put_u32(i.ifindex);
        put_string(w, i.name, ie::kInterfaceName.length);
        put_string(w, i.description, ie::kInterfaceDescription.length);
      }
    }
  }
  if (statistics) {
    const ExportStatistics& s = ctx.stats;
    {
      ByteWriter w = record(kMeteringStats);
      w.put_u32(domain);
      w.put_u64(s.exported_messages);
      w.put_u64(s.exported_records);
      w.put_u64(s.exported_bytes);
      w.put_u64(s.observed_flows);
    }
    if (s.ignored_packets != 0) {
      ByteWriter w = record(kMeteringReliability);
      w.put_u32(domain);
      w.put_u64(s.ignored_packets);
      w.put_u64(s.ignored_bytes);
      w.put_u64(ms(s.first_ignored));
      w.put_u64(ms(s.last_ignored));
    }
    if (dialect_ == Dialect::ipfix && config_.sampler.mode != SamplerMode::none) {
      ByteWriter w = record(kSelectorStats);
      w.put_u8(static_cast<std::uint8_t>(config_.sampler.mode));  // selectorId (scope)
      if (config_.sampler.mode != SamplerMode::hash) {
        w.put_u64(s.selector_flows_observed);
        w.put_u64(s.selector_flows_selected);
      }
      w.put_u64(s.selector_packets_observed);
      w.put_u64(s.selector_packets_selected);
      w.put_u64(ms(config_.start_time));  // counted since metering started
      w.put_u64(ms(now));
    }
    if (s.lost_flows != 0 || s.lost_packets != 0) {
      ByteWriter w = record(kExportingReliability);
      w.put_u32(domain);  // exportingProcessId
      w.put_u64(s.lost_flows);
      w.put_u64(s.lost_packets);
      w.put_u64(s.lost_bytes);
      w.put_u64(ms(s.first_lost));
      w.put_u64(ms(s.last_lost));
    }
  }
}

void TemplateEncoder::tick(TimeUs now, const ExportContext& ctx) {
  bool descriptions = false;
  bool statistics = false;
  if (first_tick_) {
    first_tick_ = false;
    descriptions = true;
    next_descriptions_ = now + kDescriptionInterval;
    next_statistics_ = now + kStatisticsInterval;
  } else {
    if (now >= next_descriptions_ || ctx.interfaces_generation != interfaces_generation_) {
      descriptions = true;
      next_descriptions_ = now + kDescriptionInterval;
    }
    if (now >= next_statistics_) {
      statistics = true;
      next_statistics_ = now + kStatisticsInterval;
    }
  }
  interfaces_generation_ = ctx.interfaces_generation;
  bool refreshed = false;
  // A template whose shape has had no traffic for timeout_rate minutes is still re-sent, so a
  // collector started late learns every template within timeout_rate minutes.
  if (config_.timeout_rate != 0) {
    auto refresh = [&](TemplateState& t) {
      if (t.sent && now - t.sent_at >= config_.timeout_rate * 60 * kUsPerSecond) {
        send_template(t, now);
        refreshed = true;
      }
    };
    for (auto& [shape, t] : data_templates_) refresh(t);
    refresh(nat_);
  }
  if (descriptions || statistics) emit_options(now, ctx, descriptions, statistics);
  if (descriptions || statistics || refreshed) flush(now);
}

}  // namespace netflowd
