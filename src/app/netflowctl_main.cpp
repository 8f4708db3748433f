// netflowctl: controls a running netflowd over its control socket, the way `sysctl
// net.netflow.*` and /proc/net/stat/ipt_netflow* control and show ipt_NETFLOW.
//
// Exit codes: 0 success, 1 netflowd refused or could not be reached, 2 bad command line.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "common/control_bytes.hpp"
#include "common/error.hpp"
#include "control/control_socket.hpp"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: netflowctl [--control PATH] COMMAND\n"
      "\n"
      "commands:\n"
      "  get [NAME...]            parameter values (all, or the named ones)\n"
      "  set NAME=VALUE [...]     change run-time parameters; flush=1 exports every flow now,\n"
      "                           flush=2 also zeroes the statistics\n"
      "  stat [--json|--snmp]     statistics (the /proc/net/stat/ipt_netflow view)\n"
      "  flows [--json]           the flows in the caches\n"
      "\n"
      "  --control PATH           netflowd's control socket (default /run/netflowd.sock)\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = netflowd::kDefaultControlPath;
  std::string request;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if (arg == "--control" && request.empty()) {
      if (i + 1 >= argc) {
        std::fputs("netflowctl: --control needs a path\n", stderr);
        return 2;
      }
      path = argv[++i];
      continue;
    }
    // The request is one line: a newline in an argument would end it there, and netflowd would
    // apply the part before (a list pasted over several lines would lose its later entries).
    if (const auto bad = netflowd::find_control_byte(arg); bad != arg.end()) {
      std::fprintf(stderr,
                   "netflowctl: a control character (0x%02x) after '%.*s': the request to netflowd is one line; "
                   "separate list entries with commas\n",
                   static_cast<unsigned>(static_cast<unsigned char>(*bad)), static_cast<int>(bad - arg.begin()),
                   arg.data());
      return 2;
    }
    if (!request.empty()) request += ' ';
    request += arg;
  }
  const std::string command = request.substr(0, request.find(' '));
  if (command != "get" && command != "set" && command != "stat" && command != "flows") {
    std::fprintf(stderr, "netflowctl: %s\n",
                 request.empty() ? "no command" : ("unknown command '" + command + "'").c_str());
    usage(stderr);
    return 2;
  }
  // Usage errors are caught here, before anything is sent (exit 2, as for any bad command line).
  const std::string args = request.size() > command.size() ? request.substr(command.size() + 1) : "";
  const bool bad_usage = (command == "set" && args.empty()) ||
                         (command == "stat" && !args.empty() && args != "--json" && args != "--snmp") ||
                         (command == "flows" && !args.empty() && args != "--json");
  if (bad_usage) {
    std::fprintf(stderr, "netflowctl: bad arguments for '%s'\n", command.c_str());
    usage(stderr);
    return 2;
  }
  try {
    const std::string response = netflowd::control_request(path, request);
    const std::size_t nl = response.find('\n');
    const std::string status = response.substr(0, nl);
    if (status == "OK") {
      if (nl != std::string::npos) std::fputs(response.c_str() + nl + 1, stdout);
      return 0;
    }
    std::fprintf(stderr, "netflowctl: %s\n",
                 status.starts_with("ERROR ") ? status.c_str() + 6 : ("unexpected answer: " + status).c_str());
    return 1;
  } catch (const netflowd::SetupError& e) {
    std::fprintf(stderr, "netflowctl: %s\n", e.what());
    return 1;
  }
}
