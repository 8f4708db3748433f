// What differs between NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) on the wire. Everything else
// about templates, sets and records is shared.
#pragma once

#include <cstdint>

namespace netflowd {

enum class Dialect : std::uint8_t { netflow9, ipfix };

struct DialectTraits {
  std::uint16_t version;
  std::size_t header_size;
  std::uint16_t template_set_id;
  std::uint16_t options_template_set_id;
};

constexpr DialectTraits traits(Dialect d) {
  return d == Dialect::netflow9 ? DialectTraits{9, 20, 0, 1} : DialectTraits{10, 16, 2, 3};
}

}  // namespace netflowd
