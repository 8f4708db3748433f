#include "control/snmp_rules.hpp"

#include <cctype>

#include "common/error.hpp"

namespace netflowd {

SnmpRules SnmpRules::parse(std::string_view text) {
  SnmpRules out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t colon = text.find(':', pos);
    if (colon == std::string_view::npos) {
      throw ParameterError("snmp_rules", "'" + std::string(text.substr(pos)) + "': expected prefix:base");
    }
    Rule r;
    r.prefix = std::string(text.substr(pos, colon - pos));
    if (r.prefix.empty()) throw ParameterError("snmp_rules", "empty interface prefix before ':'");
    std::size_t i = colon + 1;
    const std::size_t digits = i;
    std::uint64_t base = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      base = base * 10 + static_cast<unsigned>(text[i] - '0');
      if (base > UINT32_MAX) throw ParameterError("snmp_rules", "base for '" + r.prefix + "' is too large");
      ++i;
    }
    if (i == digits) throw ParameterError("snmp_rules", "base for '" + r.prefix + "' is not a number");
    r.base = static_cast<std::uint32_t>(base);
    out.rules_.push_back(std::move(r));
    // Exactly one separator character may follow a number (upstream's grammar).
    pos = i < text.size() ? i + 1 : i;
  }
  return out;
}

std::uint32_t SnmpRules::map(std::string_view name, std::uint32_t ifindex) const {
  for (const Rule& r : rules_) {
    if (!name.starts_with(r.prefix)) continue;
    std::uint64_t n = 0;
    for (std::size_t i = r.prefix.size(); i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
      n = std::min<std::uint64_t>(n * 10 + static_cast<unsigned>(name[i] - '0'), UINT32_MAX);
    }
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(r.base + n, UINT32_MAX));
  }
  return ifindex;
}

}  // namespace netflowd
