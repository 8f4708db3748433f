// netflowd's typed configuration. Every field is set from a parameter of the table in
// parameters.cpp, with ipt_NETFLOW's names and defaults.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/snmp_rules.hpp"
#include "flow/aggregation.hpp"
#include "flow/sampler.hpp"
#include "transport/destination.hpp"

namespace netflowd {

struct Config {
  std::vector<Destination> destinations = {Destination{*IpAddress::parse("127.0.0.1"), kDefaultCollectorPort, {}, {}}};
  int protocol = 5;
  std::uint32_t active_timeout = 1800;  // seconds
  std::uint32_t inactive_timeout = 15;  // seconds; 0 = export everything at every scan
  std::uint64_t maxflows = 2'000'000;   // 0 = unlimited
  std::uint32_t hashsize = 0;           // initial index slots per worker; 0 = automatic (flow_cache_config.hpp)
  std::uint32_t engine_id = 0;
  int debug = 0;
  std::uint32_t refresh_rate = 20;  // v9/IPFIX template refresh, packets
  std::uint32_t timeout_rate = 30;  // v9/IPFIX template refresh, minutes
  int sndbuf = 0;                   // bytes; 0 = system default
  // Datagrams per second per destination. Unset: unpaced live, 20000/s when replaying a
  // file (a replay runs far faster than real time and would overrun a local collector).
  std::optional<std::uint32_t> export_rate;
  // Unpaced: hand runs of equal-size datagrams to the kernel in one system call (UDP_SEGMENT).
  bool export_gso = true;
  // NetFlow v9 / IPFIX
  std::uint32_t payload_size = 1400;                 // bytes after the message header (upstream's fixed 1400)
  bool macaddress = false;                           // export (and key on) MAC addresses
  bool vlan = false;                                 // export VLAN ids and priorities
  bool direction = false;                            // export flowDirection
  bool physdev = false;                              // export bridge ports (ingress/egressPhysicalInterface)
  std::uint32_t mpls_depth = 0;                      // export (and key on) this many MPLS labels, 0..3
  std::string observation_domain_name = "netflowd";  // set by the program to name and version
  // Live capture
  std::uint32_t workers = 0;  // worker threads (flow-cache shards); 0 = one per CPU
  int exportcpu = -1;         // pin the export thread to this CPU; -1 = no pinning
  bool promisc = false;       // put --interface devices in promiscuous mode
  // The ruleset sends all packets of a flow to one NFLOG group: each worker meters every
  // packet of the groups it reads instead of handing packets to their flows' owners.
  bool nflog_split = false;
  bool natevents = false;  // export NAT events from conntrack (reference §4)
  // A request, not a setting: 1 exports every flow now, 2 also zeroes statistics. Consumed
  // by the daemon; always reads back 0.
  int flush = 0;
  // Aggregation rules: the text as given and the parsed rules (shared, immutable).
  std::string aggregation;
  std::shared_ptr<const AggregationRules> aggregation_rules;
  // SNMP-index rules: the text as given and the parsed rules.
  SamplerConfig sampler;
  std::string snmp_rules;
  std::shared_ptr<const SnmpRules> snmp_rules_parsed;
};

}  // namespace netflowd
