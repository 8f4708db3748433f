// netflowd: meters packets into flows and exports them as NetFlow v5, v9 or IPFIX.
//
//   netflowd --read FILE [name=value ...]
//   netflowd --nflog GROUP[,GROUP...] [--interface IFACE[,IFACE...]] [--daemon] [name=value ...]
//
// Exit codes: 0 success, 1 runtime/setup failure, 2 bad command line or parameter.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "capture/afpacket/afpacket_source.hpp"
#include "capture/netlink/interface_table.hpp"
#include "capture/nflog/nflog_source.hpp"
#include "capture/pcap/pcap_file_source.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "control/control_socket.hpp"
#include "control/parameters.hpp"
#include "pipeline/control_handler.hpp"
#include "pipeline/live_pipeline.hpp"
#include "pipeline/offline_runner.hpp"
#include "transport/udp_exporter.hpp"

namespace {

using namespace netflowd;

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
// Replays run much faster than real time; pace them so a local collector keeps up.
constexpr std::uint32_t kReplayExportRate = 20000;
constexpr int kNflogReceiveBuffer = 32 << 20;

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: netflowd --read FILE [name=value ...]\n"
               "       netflowd [--nflog GROUP[,GROUP...]] [--interface IFACE[,IFACE...]] [--daemon]\n"
               "                [--pidfile FILE] [name=value ...]\n"
               "\n"
               "Meters packets into flows and exports them as NetFlow v5, v9 or IPFIX to collectors.\n"
               "\n"
               "sources (at least one):\n"
               "  --read FILE         meter a pcap or pcapng file (Ethernet, Linux cooked SLL/SLL2, raw IP);\n"
               "                      packet timestamps drive the clock; all flows are exported at the end\n"
               "  --nflog GROUPS      packets from iptables/ip6tables '-j NFLOG --nflog-group N' or\n"
               "                      nftables 'log group N' rules (the user-space '-j NETFLOW')\n"
               "  --interface IFACES  every frame on these interfaces (AF_PACKET ring; mirror ports)\n"
               "\n"
               "options:\n"
               "  --daemon            run in the background, log to syslog\n"
               "  --pidfile FILE      write the process id to FILE (removed at exit)\n"
               "  --config FILE       name=value lines ('#' comments); default /etc/netflowd.conf if it\n"
               "                      exists; parameters on the command line win\n"
               "  -h, --help          this text\n"
               "  --version           print the version\n"
               "  --parameters-markdown  the parameter reference as a Markdown table\n"
               "\n"
               "Live capture runs until SIGTERM or SIGINT, then exports every flow still in the cache.\n"
               "\n"
               "parameters (ipt_NETFLOW names; '-' and '_' are interchangeable):\n%s",
               parameters_help().c_str());
}

struct CommandLine {
  std::string read_file;
  std::vector<std::uint16_t> nflog_groups;
  std::vector<std::string> interfaces;
  bool daemon = false;
  std::string pidfile;
  std::string config_file = "/etc/netflowd.conf";
  std::string control_path = kDefaultControlPath;
  bool config_file_explicit = false;
  std::vector<std::string> assignments;  // name=value arguments, applied after the file
  Config config;
  CommandLine() { config.observation_domain_name = std::string("netflowd ") + NETFLOWD_VERSION; }
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "netflowd: %s\n(see netflowd --help)\n", message.c_str());
  std::exit(kExitUsage);
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const std::size_t comma = s.find(',', pos);
    const std::string_view item = s.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  auto value = [&](int& i, std::string_view option) -> std::string {
    if (i + 1 >= argc) usage_error(std::string(option) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      std::exit(0);
    } else if (arg == "--parameters-markdown") {
      std::fputs(parameters_markdown().c_str(), stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("netflowd %s\n", NETFLOWD_VERSION);
      std::exit(0);
    } else if (arg == "--read" || arg == "-r") {
      cl.read_file = value(i, arg);
    } else if (arg == "--nflog") {
      for (const std::string& g : split_list(value(i, arg))) {
        char* end = nullptr;
        const unsigned long n = std::strtoul(g.c_str(), &end, 10);
        if (end == g.c_str() || *end != '\0' || n > 65535)
          usage_error("--nflog: '" + g + "' is not a group number 0..65535");
        cl.nflog_groups.push_back(static_cast<std::uint16_t>(n));
      }
    } else if (arg == "--interface" || arg == "-i") {
      for (const std::string& name : split_list(value(i, arg))) cl.interfaces.push_back(name);
    } else if (arg == "--daemon" || arg == "-d") {
      cl.daemon = true;
    } else if (arg == "--pidfile") {
      cl.pidfile = value(i, arg);
    } else if (arg == "--control") {
      cl.control_path = value(i, arg);
    } else if (arg == "--no-control") {
      cl.control_path.clear();
    } else if (arg == "--config" || arg == "-c") {
      cl.config_file = value(i, arg);
      cl.config_file_explicit = true;
    } else if (arg.starts_with("-")) {
      usage_error("unknown option '" + std::string(arg) + "'");
    } else {
      cl.assignments.emplace_back(arg);
    }
  }
  // The configuration file first, then the command line: command-line values win.
  std::ifstream file(cl.config_file);
  if (file) {
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    apply_config_text(cl.config, text, cl.config_file);  // throws ParameterError
  } else if (cl.config_file_explicit) {
    std::fprintf(stderr, "netflowd: cannot read configuration file '%s': %s\n", cl.config_file.c_str(),
                 std::strerror(errno));
    std::exit(kExitUsage);
  }
  for (const std::string& a : cl.assignments) apply_parameter(cl.config, a);  // throws ParameterError
  const bool live = !cl.nflog_groups.empty() || !cl.interfaces.empty();
  if (cl.read_file.empty() && !live) {
    usage_error("no packet source given: use --read FILE, --nflog GROUP or --interface IFACE");
  }
  if (!cl.read_file.empty() && live) usage_error("--read cannot be combined with live sources");
  if (!cl.read_file.empty() && cl.daemon) usage_error("--daemon is for live capture");
  if (!cl.read_file.empty() && cl.config.natevents) {
    throw ParameterError("natevents", "NAT events come from this host's conntrack, not from a capture file (--read)");
  }
  return cl;
}

void report(const RunSummary& summary) {
  if (!summary.capture_error.empty()) {
    log_message(LOG_WARNING, "warning: %s (everything read before it was exported)", summary.capture_error.c_str());
  }
  for (const auto& [destination, st] : summary.destinations) {
    if (st.err_sndbuf + st.err_connect + st.err_cberr + st.err_other == 0) continue;
    log_message(LOG_WARNING,
                "destination %s: sent %llu, errors: sndbuf reached %llu, connect %llu, cberr %llu, other %llu",
                destination.c_str(), static_cast<unsigned long long>(st.sent_datagrams),
                static_cast<unsigned long long>(st.err_sndbuf), static_cast<unsigned long long>(st.err_connect),
                static_cast<unsigned long long>(st.err_cberr), static_cast<unsigned long long>(st.err_other));
  }
  log_message(LOG_INFO, "%s", format_summary_human(summary).c_str() + std::strlen("netflowd: "));
  log_message(LOG_INFO, "%s", format_summary_machine(summary).c_str() + std::strlen("netflowd: "));
}

int run_read(const CommandLine& cl) {
  PcapFileSource source(cl.read_file);
  UdpExporterOptions transport;
  transport.sndbuf = cl.config.sndbuf;
  transport.rate = cl.config.export_rate.value_or(kReplayExportRate);
  transport.segmentation = cl.config.export_gso;
  transport.wait_when_full = true;  // a replay has time to wait; nothing may be lost
  UdpExporter exporter(cl.config.destinations, transport);
  RunSummary summary = run_offline(source, cl.config, exporter, read_interfaces());
  summary.transport = exporter.totals();
  summary.send_errors = exporter.errors();
  for (std::size_t i = 0; i < exporter.size(); ++i) {
    summary.destinations.emplace_back(exporter.destination(i).to_string(), exporter.socket_stats(i));
  }
  report(summary);
  return 0;
}

// SIGHUP: re-read the configuration file, apply the run-time parameters that changed (command
// line values still win), report what changed or why nothing did.
void reload_configuration(const CommandLine& cl, LiveControl& control) {
  Config fresh;
  try {
    std::ifstream file(cl.config_file);
    if (!file) throw SetupError("cannot read " + cl.config_file);
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    apply_config_text(fresh, text, cl.config_file);
    for (const std::string& a : cl.assignments) apply_parameter(fresh, a);
  } catch (const std::exception& e) {
    log_message(LOG_ERR, "SIGHUP: configuration not reloaded: %s", e.what());
    return;
  }
  const std::vector<std::string> changed = control.reload(fresh);
  std::string names;
  for (const auto& n : changed) names += (names.empty() ? "" : ", ") + n;
  log_message(LOG_INFO, "SIGHUP: configuration reloaded from %s; changed: %s", cl.config_file.c_str(),
              names.empty() ? "nothing" : names.c_str());
}

int run_daemon(const CommandLine& cl) {
  // Signals are taken synchronously by this thread; every thread started later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<std::unique_ptr<CaptureSource>> sources;
  for (std::uint16_t g : cl.nflog_groups) sources.push_back(std::make_unique<NflogSource>(g, kNflogReceiveBuffer));
  // workers=0: one per CPU; with NFLOG groups only, one per group (at most one per CPU): a
  // group is one socket read by one worker, and more workers would only take packets over
  // from it, which costs about as much as metering them.
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const unsigned workers = cl.config.workers != 0 ? cl.config.workers
                           : cl.interfaces.empty()
                               ? std::min(cpus, static_cast<unsigned>(std::max<std::size_t>(cl.nflog_groups.size(), 1)))
                               : cpus;
  // One ring per worker on every interface, joined in a fanout group: the kernel gives each
  // ring the packets of its worker's flows (common/flow_shard.hpp). Workers still check each
  // packet's owner and hand on the few the kernel could not place, so a flow never splits.
  for (std::size_t i = 0; i < cl.interfaces.size(); ++i) {
    AfPacketOptions ring;
    ring.promiscuous = cl.config.promisc;
    ring.fanout_group = workers > 1 ? static_cast<std::uint16_t>(((::getpid() & 0xfff) << 4) + i + 1) : 0;
    for (unsigned r = 0; r < (workers > 1 ? workers : 1); ++r) {
      ring.fanout_index = r;
      sources.push_back(std::make_unique<AfPacketSource>(cl.interfaces[i], ring));
    }
  }
  if (cl.config.nflog_split) {
    if (cl.nflog_groups.empty()) {
      log_message(LOG_WARNING, "warning: nflog_split=1 has no effect without --nflog");
    } else if (workers > cl.nflog_groups.size()) {
      log_message(LOG_WARNING,
                  "warning: nflog_split=1: %zu of %u workers read no NFLOG group, so they meter no NFLOG packet",
                  workers - cl.nflog_groups.size(), workers);
    }
  }
  LiveControl control(cl.config, workers, sources.size(), 0);
  std::unique_ptr<ControlServer> server;
  if (!cl.control_path.empty()) server = std::make_unique<ControlServer>(cl.control_path);

  if (cl.daemon) {
    if (::daemon(0, 0) != 0) throw SetupError(std::string("daemon: ") + std::strerror(errno));
    log_to_syslog("netflowd");
  }
  if (!cl.pidfile.empty()) {
    std::ofstream(cl.pidfile) << ::getpid() << "\n";
  }
  LiveOptions options;
  options.workers = workers;
  options.export_cpu = cl.config.exportcpu;
  options.nflog_split = cl.config.nflog_split;
  log_message(LOG_INFO, "started: %zu source(s), %u worker(s), protocol %d, destination %s%s%s", sources.size(),
              options.workers, cl.config.protocol, format_destinations(cl.config.destinations).c_str(),
              server ? ", control " : "", server ? server->path().c_str() : "");

  std::stop_source stop;
  RunSummary summary;
  std::exception_ptr failure;
  std::jthread pipeline([&] {
    try {
      summary = run_live(sources, control, options, stop.get_token());
    } catch (...) {
      failure = std::current_exception();
      ::kill(::getpid(), SIGTERM);  // wake the signal loop below
    }
  });
  std::jthread control_thread;
  if (server) {
    control_thread = std::jthread([&](std::stop_token st) {
      server->serve([&](const std::string& request) { return handle_control_request(control, request); }, st);
    });
  }
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload_configuration(cl, control);
      continue;
    }
    if (!failure) {
      log_message(LOG_INFO, "%s: exporting every flow still in the cache", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    break;
  }
  stop.request_stop();
  pipeline.join();
  if (control_thread.joinable()) {
    control_thread.request_stop();
    control_thread.join();
  }
  if (!cl.pidfile.empty()) ::unlink(cl.pidfile.c_str());
  if (failure) std::rethrow_exception(failure);
  report(summary);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const CommandLine cl = parse_command_line(argc, argv);
    set_log_verbosity(cl.config.debug);
    return cl.read_file.empty() ? run_daemon(cl) : run_read(cl);
  } catch (const ParameterError& e) {
    std::fprintf(stderr, "netflowd: bad parameter %s\n", e.what());
    return kExitUsage;
  } catch (const SetupError& e) {
    log_message(LOG_ERR, "%s", e.what());
    return kExitRuntime;
  } catch (const std::bad_alloc&) {
    // Memory refused outside the flow tables (which refuse new flows and count them instead):
    // a clear end rather than an abort.
    log_message(LOG_ERR, "out of memory");
    return kExitRuntime;
  }
}
