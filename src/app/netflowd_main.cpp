// netflowd: meters packets into flows and exports them as NetFlow.
//
//   netflowd --read FILE [name=value ...]
//
// Exit codes: 0 success, 1 runtime/setup failure, 2 bad command line or parameter.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "capture/netlink/interface_table.hpp"
#include "capture/pcap/pcap_file_source.hpp"
#include "common/error.hpp"
#include "control/parameters.hpp"
#include "pipeline/offline_runner.hpp"
#include "transport/udp_exporter.hpp"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
// Replays run much faster than real time; pace them so a local collector keeps up.
constexpr std::uint32_t kReplayExportRate = 20000;

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: netflowd --read FILE [name=value ...]\n"
               "\n"
               "Meters packets into flows and exports them as NetFlow to collectors.\n"
               "\n"
               "sources:\n"
               "  --read FILE       meter a pcap or pcapng file (Ethernet, Linux cooked SLL/SLL2, raw IP);\n"
               "                    packet timestamps drive the clock; all flows are exported at the end\n"
               "  (live sources --nflog GROUP and --interface IFACE are not implemented yet)\n"
               "\n"
               "options:\n"
               "  -h, --help        this text\n"
               "  --version         print the version\n"
               "\n"
               "parameters (ipt_NETFLOW names; '-' and '_' are interchangeable):\n%s",
               netflowd::parameters_help().c_str());
}

struct CommandLine {
  std::string read_file;
  netflowd::Config config;
  CommandLine() { config.observation_domain_name = std::string("netflowd ") + NETFLOWD_VERSION; }
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "netflowd: %s\n(see netflowd --help)\n", message.c_str());
  std::exit(kExitUsage);
}

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      std::exit(0);
    } else if (arg == "--parameters-markdown") {
      std::fputs(netflowd::parameters_markdown().c_str(), stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("netflowd %s\n", NETFLOWD_VERSION);
      std::exit(0);
    } else if (arg == "--read" || arg == "-r") {
      if (i + 1 >= argc) usage_error("--read needs a file name");
      cl.read_file = argv[++i];
    } else if (arg.starts_with("--read=")) {
      cl.read_file = std::string(arg.substr(7));
    } else if (arg.starts_with("-")) {
      usage_error("unknown option '" + std::string(arg) + "'");
    } else {
      netflowd::apply_parameter(cl.config, arg);  // throws ParameterError
    }
  }
  if (cl.read_file.empty()) {
    usage_error(
        "no packet source given: use --read FILE (live sources --nflog and --interface are not implemented yet)");
  }
  return cl;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace netflowd;
  try {
    const CommandLine cl = parse_command_line(argc, argv);
    PcapFileSource source(cl.read_file);
    UdpExporterOptions transport_options;
    transport_options.sndbuf = cl.config.sndbuf;
    transport_options.rate = cl.config.export_rate.value_or(kReplayExportRate);
    transport_options.wait_when_full = true;  // a replay has time to wait; nothing may be lost
    UdpExporter exporter(cl.config.destinations, transport_options);

    const std::vector<InterfaceInfo> interfaces = read_interfaces();
    RunSummary summary = run_offline(source, cl.config, exporter, interfaces);
    summary.transport = exporter.totals();
    summary.send_errors = exporter.errors();
    if (!summary.capture_error.empty()) {
      std::fprintf(stderr, "netflowd: warning: %s (everything read before it was exported)\n",
                   summary.capture_error.c_str());
    }
    for (std::size_t i = 0; i < exporter.size(); ++i) {
      const SocketStats& st = exporter.socket_stats(i);
      if (st.err_sndbuf + st.err_connect + st.err_cberr + st.err_other == 0) continue;
      std::fprintf(stderr,
                   "netflowd: destination %s: sent %llu, errors: sndbuf reached %llu, connect %llu, cberr %llu, "
                   "other %llu\n",
                   exporter.destination(i).to_string().c_str(), static_cast<unsigned long long>(st.sent_datagrams),
                   static_cast<unsigned long long>(st.err_sndbuf), static_cast<unsigned long long>(st.err_connect),
                   static_cast<unsigned long long>(st.err_cberr), static_cast<unsigned long long>(st.err_other));
    }
    std::fprintf(stderr, "%s\n%s\n", format_summary_human(summary).c_str(), format_summary_machine(summary).c_str());
    return 0;
  } catch (const ParameterError& e) {
    std::fprintf(stderr, "netflowd: bad parameter %s\n", e.what());
    return kExitUsage;
  } catch (const SetupError& e) {
    std::fprintf(stderr, "netflowd: %s\n", e.what());
    return kExitRuntime;
  }
}
