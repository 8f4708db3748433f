#include "export/template/message_writer.hpp"

#include <span>

namespace netflowd {
namespace {

std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

// v9 options templates name their scope with a scope type (RFC 3954 section 6.1): netflowd's
// scopes (observationDomainId, exportingProcessId) are the whole system.
constexpr std::uint16_t kV9ScopeSystem = 1;

}  // namespace

MessageWriter::MessageWriter(Dialect dialect, std::uint32_t domain_id, TimeUs boot, std::size_t payload_size,
                             DatagramSink& sink)
    : dialect_(dialect),
      domain_id_(domain_id),
      boot_(boot),
      header_size_(traits(dialect).header_size),
      limit_(traits(dialect).header_size + payload_size),
      sink_(sink),
      buf_(limit_ + 3, 0),
      pos_(header_size_) {}

std::size_t MessageWriter::template_set_size(const WireTemplate& t) {
  const std::size_t header = t.scope_count == 0 ? 4 : (4 + 2);  // id + count [+ scope count/length]
  return padded(4 + header + 4 * t.fields.size());
}

bool MessageWriter::fits(std::size_t bytes) const {
  const std::size_t used = open_set_ != 0 ? open_set_start_ + padded(pos_ - open_set_start_) : pos_;
  return used + bytes <= limit_;
}

bool MessageWriter::fits_append(std::size_t length) const {
  return open_set_ != 0 && open_set_start_ + padded(pos_ + length - open_set_start_) <= limit_;
}

void MessageWriter::close_set() {
  if (open_set_ == 0) return;
  while ((pos_ - open_set_start_) % 4 != 0) buf_[pos_++] = 0;
  ByteWriter w{std::span(buf_).subspan(open_set_start_, 4)};
  w.put_u16(open_set_);
  w.put_u16(static_cast<std::uint16_t>(pos_ - open_set_start_));
  open_set_ = 0;
}

void MessageWriter::add_template(const WireTemplate& t) {
  close_set();
  const DialectTraits tr = traits(dialect_);
  const std::size_t size = template_set_size(t);
  ByteWriter w{std::span(buf_).subspan(pos_, size)};
  w.put_u16(t.scope_count == 0 ? tr.template_set_id : tr.options_template_set_id);
  w.put_u16(static_cast<std::uint16_t>(size));
  w.put_u16(t.id);
  const auto n = static_cast<std::uint16_t>(t.fields.size());
  if (t.scope_count == 0) {
    w.put_u16(n);
  } else if (dialect_ == Dialect::ipfix) {
    w.put_u16(n);              // field count
    w.put_u16(t.scope_count);  // scope field count
  } else {
    w.put_u16(static_cast<std::uint16_t>(4 * t.scope_count));        // scope length in bytes
    w.put_u16(static_cast<std::uint16_t>(4 * (n - t.scope_count)));  // option length in bytes
  }
  for (std::size_t i = 0; i < t.fields.size(); ++i) {
    const bool v9_scope = dialect_ == Dialect::netflow9 && i < t.scope_count;
    w.put_u16(v9_scope ? kV9ScopeSystem : t.fields[i].id);
    w.put_u16(t.fields[i].length);
  }
  w.put_zeros(size - w.size());
  pos_ += size;
  ++records_;
}

void MessageWriter::begin_data_set(std::uint16_t template_id) {
  close_set();
  open_set_ = template_id;
  open_set_start_ = pos_;
  pos_ += 4;  // set header, written by close_set()
}

ByteWriter MessageWriter::record(std::size_t length, bool flow_record, const DatagramContents& adds) {
  ByteWriter w{std::span(buf_).subspan(pos_, length)};
  pos_ += length;
  ++records_;
  ++data_records_;
  if (flow_record) {
    contents_.flow_records += adds.flow_records;
    contents_.packets += adds.packets;
    contents_.bytes += adds.bytes;
  }
  return w;
}

void MessageWriter::send(TimeUs now) {
  if (empty()) return;
  close_set();
  ByteWriter h{std::span(buf_).first(header_size_)};
  const auto secs = static_cast<std::uint32_t>(now / kUsPerSecond);
  if (dialect_ == Dialect::netflow9) {
    // RFC 3954 section 5.1
    h.put_u16(9);
    h.put_u16(records_);
    h.put_u32(static_cast<std::uint32_t>(static_cast<std::uint64_t>(us_to_ms(now - boot_))));  // sysUpTime
    h.put_u32(secs);
    h.put_u32(static_cast<std::uint32_t>(messages_));  // sequence: export packets sent before
    h.put_u32(domain_id_);                             // source id
  } else {
    // RFC 7011 section 3.1
    h.put_u16(10);
    h.put_u16(static_cast<std::uint16_t>(pos_));
    h.put_u32(secs);             // export time
    h.put_u32(ipfix_sequence_);  // data records sent before this message
    h.put_u32(domain_id_);       // observation domain id
  }
  contents_.time = now;
  sink_.send(std::span(buf_).first(pos_), contents_);
  ++messages_;
  ipfix_sequence_ += data_records_;
  pos_ = header_size_;
  records_ = 0;
  data_records_ = 0;
  contents_ = {};
}

}  // namespace netflowd
