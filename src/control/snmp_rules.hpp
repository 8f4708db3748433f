// SNMP-index rules (the `snmp-rules` parameter, reference 8.2): export stable interface numbers
// for interfaces whose kernel ifIndex changes (ppp, tunnels), derived from their names.
//
//   prefix:base[,prefix:base...]   e.g. "ppp:200,eth:100" maps ppp11 to 211, eth0 to 100
//
// For an interface, the first rule whose prefix starts its name gives base + the decimal
// number that follows the prefix (0 if none); no rule: the kernel ifIndex. Only exported
// numbers change (v5 input/output, v9/IPFIX interfaces and interface options records); the
// flow key keeps the kernel ifIndex. A bad value is refused whole with the reason (upstream
// shows "parse error" and keeps the old rules).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace netflowd {

class SnmpRules {
 public:
  struct Rule {
    std::string prefix;
    std::uint32_t base = 0;
  };

  // Throws ParameterError("snmp_rules", reason).
  static SnmpRules parse(std::string_view text);

  bool empty() const { return rules_.empty(); }
  const std::vector<Rule>& rules() const { return rules_; }
  // The number to export for interface `name` whose kernel index is `ifindex`.
  std::uint32_t map(std::string_view name, std::uint32_t ifindex) const;

 private:
  std::vector<Rule> rules_;
};

}  // namespace netflowd
