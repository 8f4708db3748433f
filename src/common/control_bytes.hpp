// Bytes that are not text in a line of configuration or a control request: the C0 controls
// other than tab, and DEL. The configuration file, netflowctl and the SNMP agent refuse a
// value with one (a NUL cuts messages short, a newline ends a control request early, other
// white space splits it into further words).
#pragma once

#include <algorithm>
#include <string_view>

namespace netflowd {

constexpr bool is_control_byte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

// The first control byte of `s`, or s.end().
inline std::string_view::const_iterator find_control_byte(std::string_view s) {
  return std::find_if(s.begin(), s.end(), is_control_byte);
}

}  // namespace netflowd
