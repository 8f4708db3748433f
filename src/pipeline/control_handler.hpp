// The requests netflowctl sends, answered from a LiveControl:
//
//   get [NAME]                  current parameter values (the `sysctl net.netflow` view)
//   set NAME=VALUE [...]        change run-time parameters (flush=1|2 flushes)
//   stat [--json|--snmp]        statistics (the /proc/net/stat/ipt_netflow view)
//   flows [--json]              the flows in the caches (the ipt_netflow_flows view)
#pragma once

#include <string>

#include "pipeline/live_control.hpp"

namespace netflowd {

std::string handle_control_request(LiveControl& control, const std::string& request);

std::string format_stat_text(const LiveSnapshot& s);
std::string format_stat_json(const LiveSnapshot& s);
std::string format_stat_snmp(const LiveSnapshot& s);

}  // namespace netflowd
