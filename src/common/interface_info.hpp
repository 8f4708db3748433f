// One network interface as options records describe it.
#pragma once

#include <cstdint>
#include <string>

namespace netflowd {

struct InterfaceInfo {
  std::uint32_t ifindex = 0;
  std::string name;
  std::string description;
  bool operator==(const InterfaceInfo&) const = default;
};

}  // namespace netflowd
