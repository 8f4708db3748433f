// Assembles NetFlow v9 / IPFIX messages: header, template sets, options template sets and
// data sets, within a payload limit, and hands finished messages to the sink.
//
// Every set is padded to a multiple of 4 bytes (RFC 7011 section 3.3.1 allows it, RFC 3954
// asks for it; upstream leaves options template sets unpadded, which some parsers mishandle).
#pragma once

#include <cstdint>
#include <vector>

#include "common/byte_writer.hpp"
#include "export/datagram_sink.hpp"
#include "export/template/data_template.hpp"
#include "export/template/dialect.hpp"

namespace netflowd {

// One template as it goes on the wire. For options templates the first `scope_count` fields
// are the scope.
struct WireTemplate {
  std::uint16_t id = 0;
  std::vector<TemplateField> fields;
  std::uint16_t scope_count = 0;  // 0: a data template
  std::size_t record_length = 0;
  std::vector<RecordOp> program;  // data templates: compile_record(fields)
};

class MessageWriter {
 public:
  MessageWriter(Dialect dialect, std::uint32_t domain_id, TimeUs boot, std::size_t payload_size, DatagramSink& sink);

  bool empty() const { return pos_ == header_size_; }
  // Bytes a template set with this one template takes.
  static std::size_t template_set_size(const WireTemplate& t);
  // Would `bytes` more fit, after closing (padding) the open set?
  bool fits(std::size_t bytes) const;
  // Would one more record of `length` bytes fit in the open data set (with its padding)?
  bool fits_append(std::size_t length) const;
  bool in_data_set(std::uint16_t template_id) const { return open_set_ == template_id; }

  void add_template(const WireTemplate& t);
  void begin_data_set(std::uint16_t template_id);
  // Space for one data record of the open data set; the caller writes exactly `length` bytes.
  ByteWriter record(std::size_t length, bool flow_record, const DatagramContents& adds);

  // Sends the message if it has anything in it.
  void send(TimeUs now);

  std::uint64_t messages() const { return messages_; }

 private:
  void close_set();

  Dialect dialect_;
  std::uint32_t domain_id_;
  TimeUs boot_;
  std::size_t header_size_;
  std::size_t limit_;  // header + payload
  DatagramSink& sink_;
  std::vector<std::uint8_t> buf_;
  std::size_t pos_;
  std::uint16_t open_set_ = 0;  // set id of the open set (0: none; template sets are never left open)
  std::size_t open_set_start_ = 0;
  std::uint16_t records_ = 0;       // v9 header count: template and data records
  std::uint32_t data_records_ = 0;  // IPFIX sequence: data records incl. options data
  DatagramContents contents_;
  std::uint64_t messages_ = 0;  // v9 sequence: messages sent before
  std::uint32_t ipfix_sequence_ = 0;
};

}  // namespace netflowd
