// netflowd-snmp: the SNMP agent of netflowd, an AgentX subagent of the system's snmpd serving
// IPT-NETFLOW-MIB (reference §10) from netflowd's control socket, as upstream's agent served
// it from /proc and /proc/sys (src/snmp/mib_view.hpp lists what it serves).
//
//   netflowd-snmp [--control PATH] [--agentx ADDRESS] [--refresh SECONDS]
//
// snmpd must run an AgentX master ("master agentx" in snmpd.conf; ADDRESS is its
// agentXSocket, default net-snmp's /var/agentx/master). Statistics are read from netflowd at
// most once per --refresh seconds (default 2, as upstream's agent); a SET of a parameter
// (.1.2) is a `netflowctl set` and is refused with wrongValue when netflowd refuses it
// (notWritable for parameters that cannot change at run time). While netflowd cannot be
// reached, everything but the module name answers noSuchInstance. Runs in the foreground;
// SIGTERM/SIGINT stop it.

// net-snmp needs its configuration header first, then the library, then the agent.
#include <net-snmp/net-snmp-config.h>

#include <net-snmp/net-snmp-includes.h>

#include <net-snmp/agent/net-snmp-agent-includes.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "control/control_socket.hpp"
#include "control/parameters.hpp"
#include "snmp/mib_view.hpp"

namespace {

using netflowd::snmp::Oid;
using netflowd::snmp::Type;
using netflowd::snmp::Value;

volatile std::sig_atomic_t g_stop = 0;

struct Agent {
  std::string control = netflowd::kDefaultControlPath;
  double refresh_s = 2;
  std::map<Oid, Value> view;
  std::time_t read_at = 0;
  bool reachable = true;

  // The control socket's answer without its "OK" line; throws SetupError on "ERROR".
  std::string ask(const std::string& request) {
    const std::string r = netflowd::control_request(control, request);
    if (r.rfind("OK\n", 0) != 0) throw netflowd::SetupError(r.substr(0, r.find('\n')));
    return r.substr(3);
  }

  const std::map<Oid, Value>& current() {
    const std::time_t now = std::time(nullptr);
    if (read_at != 0 && std::difftime(now, read_at) < refresh_s) return view;
    netflowd::snmp::ControlAnswers a;
    a.now_unix = now;
    try {
      a.parameters = ask("get");
      a.stat_text = ask("stat");
      a.stat_snmp = ask("stat --snmp");
      if (!reachable) snmp_log(LOG_INFO, "netflowd-snmp: netflowd answers again\n");
      reachable = true;
    } catch (const std::exception& e) {
      if (reachable) snmp_log(LOG_WARNING, "netflowd-snmp: netflowd not reachable: %s\n", e.what());
      reachable = false;
      a = {};
    }
    view = netflowd::snmp::build_view(a);
    read_at = now;
    return view;
  }
};

Agent g_agent;

void set_value(netsnmp_variable_list* vb, const Value& v) {
  switch (v.type) {
    case Type::integer: {
      const long n = static_cast<std::int32_t>(static_cast<std::uint32_t>(v.number));
      snmp_set_var_typed_value(vb, ASN_INTEGER, &n, sizeof n);
      break;
    }
    case Type::octets: snmp_set_var_typed_value(vb, ASN_OCTET_STR, v.octets.data(), v.octets.size()); break;
    case Type::counter32:
    case Type::gauge32: {
      const u_long n = static_cast<u_long>(v.number);
      snmp_set_var_typed_value(vb, v.type == Type::counter32 ? ASN_COUNTER : ASN_GAUGE, &n, sizeof n);
      break;
    }
    case Type::counter64: {
      counter64 c{};
      c.high = static_cast<u_long>(v.number >> 32);
      c.low = static_cast<u_long>(v.number & 0xffffffffu);
      snmp_set_var_typed_value(vb, ASN_COUNTER64, &c, sizeof c);
      break;
    }
  }
}

Oid oid_of(const netsnmp_variable_list* vb) { return Oid(vb->name, vb->name + vb->name_length); }

// A SET's value as a parameter's text (netflowd::snmp::parameter_text), or nothing when it
// cannot be one.
std::optional<std::string> set_text(const netsnmp_variable_list* vb, Type type) {
  Value v;
  v.type = type;
  if (type == Type::octets) {
    v.octets.assign(reinterpret_cast<const char*>(vb->val.string), vb->val_len);
  } else {
    v.number = static_cast<std::uint32_t>(static_cast<std::int32_t>(*vb->val.integer));
  }
  return netflowd::snmp::parameter_text(v);
}

int handle(netsnmp_mib_handler*, netsnmp_handler_registration*, netsnmp_agent_request_info* reqinfo,
           netsnmp_request_info* requests) {
  for (netsnmp_request_info* req = requests; req != nullptr; req = req->next) {
    if (req->processed) continue;
    netsnmp_variable_list* vb = req->requestvb;
    const Oid name = oid_of(vb);
    switch (reqinfo->mode) {
      case MODE_GET: {
        const auto& view = g_agent.current();
        const auto it = view.find(name);
        if (it == view.end()) {
          netsnmp_set_request_error(reqinfo, req, SNMP_NOSUCHINSTANCE);
        } else {
          set_value(vb, it->second);
        }
        break;
      }
      case MODE_GETNEXT: {
        const auto& view = g_agent.current();
        const auto it = view.upper_bound(name);
        if (it != view.end()) {
          std::vector<oid> arcs(it->first.begin(), it->first.end());
          snmp_set_var_objid(vb, arcs.data(), arcs.size());
          set_value(vb, it->second);
        }
        // else: left unanswered, the agent goes on past this subtree
        break;
      }
      case MODE_SET_RESERVE1: {
        const auto w = netflowd::snmp::writable(name);
        if (!w) {
          netsnmp_set_request_error(reqinfo, req, SNMP_ERR_NOTWRITABLE);
          break;
        }
        const netflowd::ParameterSpec* spec = netflowd::find_parameter(w->parameter);
        if (spec == nullptr || !spec->runtime) {
          netsnmp_set_request_error(reqinfo, req, SNMP_ERR_NOTWRITABLE);
          break;
        }
        const int rc = netsnmp_check_vb_type(vb, w->type == Type::integer ? ASN_INTEGER : ASN_OCTET_STR);
        if (rc != SNMP_ERR_NOERROR) netsnmp_set_request_error(reqinfo, req, rc);
        break;
      }
      case MODE_SET_ACTION: {
        const auto w = netflowd::snmp::writable(name);
        if (!w) break;
        const std::optional<std::string> text = set_text(vb, w->type);
        if (!text) {
          snmp_log(LOG_WARNING, "netflowd-snmp: set %s: a control character in the value\n", w->parameter.c_str());
          netsnmp_set_request_error(reqinfo, req, SNMP_ERR_WRONGVALUE);
          break;
        }
        try {
          g_agent.ask("set " + w->parameter + "=" + *text);
        } catch (const std::exception& e) {
          snmp_log(LOG_WARNING, "netflowd-snmp: set %s: %s\n", w->parameter.c_str(), e.what());
          netsnmp_set_request_error(reqinfo, req, SNMP_ERR_WRONGVALUE);
        }
        g_agent.read_at = 0;  // the next read shows the new value
        break;
      }
      default: break;  // RESERVE2, COMMIT, FREE, UNDO: nothing held, nothing to undo
    }
  }
  return SNMP_ERR_NOERROR;
}

void usage(std::FILE* out) {
  std::fputs(
      "usage: netflowd-snmp [--control PATH] [--agentx ADDRESS] [--refresh SECONDS]\n"
      "  AgentX subagent serving IPT-NETFLOW-MIB (.1.3.6.1.4.1.37476.9000.10.1) from netflowd\n"
      "  --control PATH     netflowd's control socket (default /run/netflowd.sock)\n"
      "  --agentx ADDRESS   snmpd's AgentX master socket (default: net-snmp's, /var/agentx/master)\n"
      "  --refresh SECONDS  read statistics from netflowd at most this often (default 2)\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string agentx;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "netflowd-snmp: %s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    } else if (arg == "--control") {
      g_agent.control = value("--control");
    } else if (arg == "--agentx") {
      agentx = value("--agentx");
    } else if (arg == "--refresh") {
      const std::string v = value("--refresh");
      char* end = nullptr;
      g_agent.refresh_s = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || g_agent.refresh_s < 0 || g_agent.refresh_s > 3600) {
        std::fprintf(stderr, "netflowd-snmp: --refresh: not a number of seconds 0..3600: '%s'\n", v.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "netflowd-snmp: unknown argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  snmp_enable_stderrlog();
  netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
  if (!agentx.empty()) netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET, agentx.c_str());
  // Reconnect every 5 s when snmpd is not there yet or restarts.
  netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL, 5);
  // No persistent state and no configuration files of net-snmp's own: all is on the command line.
  netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
  netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
  init_agent("netflowd-snmp");
  std::vector<oid> root(netflowd::snmp::kRoot.begin(), netflowd::snmp::kRoot.end());
  netsnmp_handler_registration* reg =
      netsnmp_create_handler_registration("iptNetflowMIB", handle, root.data(), root.size(), HANDLER_CAN_RWRITE);
  if (reg == nullptr || netsnmp_register_handler(reg) != MIB_REGISTERED_OK) {
    std::fputs("netflowd-snmp: cannot register IPT-NETFLOW-MIB\n", stderr);
    return 1;
  }
  init_snmp("netflowd-snmp");
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  snmp_log(LOG_INFO, "netflowd-snmp: serving .1.3.6.1.4.1.37476.9000.10.1 from %s\n", g_agent.control.c_str());
  while (g_stop == 0) agent_check_and_process(1);
  snmp_shutdown("netflowd-snmp");
  return 0;
}
