// The kernel's interface table (ifIndex, name, description), read over rtnetlink, for the
// interface options records (reference 2.11, IFNAMES).
//
// Description: the interface alias (`ip link set DEV alias TEXT`) when set, otherwise the
// name of its link type ("Ethernet", "Loopback", ...). Upstream also reports the ethtool
// driver and speed; netflowd does not yet.
#pragma once

#include <cstdint>
#include <vector>

#include "common/interface_info.hpp"
#include "common/unique_fd.hpp"

namespace netflowd {

// Reads every interface of the current network namespace. Throws SetupError on failure.
std::vector<InterfaceInfo> read_interfaces();

// Tells when the interface table changed (a link appeared, disappeared or was renamed), by
// listening to rtnetlink link notifications. Non-blocking; poll it from the export loop.
class InterfaceWatcher {
 public:
  InterfaceWatcher();  // throws SetupError
  // True if any link notification arrived since the last call.
  bool changed();

 private:
  UniqueFd fd_;
};

}  // namespace netflowd
