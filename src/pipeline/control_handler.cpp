#include "pipeline/control_handler.hpp"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <sstream>
#include <vector>

#include "common/error.hpp"
#include "control/parameters.hpp"

namespace netflowd {
namespace {

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* format, ...) {
  char buf[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

using u64 = unsigned long long;

struct Totals {
  FlowCacheStats cache;
  std::uint64_t active = 0, memory = 0, slots = 0;
  std::uint64_t frames = 0, non_ip = 0, malformed = 0, source_drops = 0, queue_drops = 0, own_export = 0;
  std::uint64_t sampled_out = 0;
  // Frames observed and not metered for a reason that is netflowd's (the sampler's choice and
  // its own export are not drops).
  std::uint64_t dropped() const {
    return non_ip + malformed + cache.maxflows_dropped_packets + cache.alloc_dropped_packets + queue_drops;
  }
  std::uint64_t dropped_bytes() const { return cache.maxflows_dropped_bytes + cache.alloc_dropped_bytes; }
};

Totals totals_of(const LiveSnapshot& s) {
  Totals t;
  for (const auto& w : s.workers) {
    t.cache += w.cache;
    t.active += w.active_flows;
    t.memory += w.memory_bytes;
    t.slots += w.index_slots;
  }
  for (const auto& c : s.captures) {
    t.frames += c.frames;
    t.non_ip += c.parse[ParseStatus::non_ip];
    t.malformed += c.parse.malformed();
    t.source_drops += c.source_drops;
    t.queue_drops += c.queue_drops;
    t.own_export += c.own_export;
    t.sampled_out += c.sampled_out;
  }
  return t;
}

// (searched + found + new) / (found + new): 1.00 means every lookup hit its first slot.
double hash_metric(const FlowCacheStats& c) {
  const double lookups = static_cast<double>(c.lookups_found + c.flows_created);
  return lookups == 0 ? 1.0 : (static_cast<double>(c.probes) + lookups) / lookups;
}

const char* protocol_name(int p) { return p == 10 ? "ipfix" : p == 9 ? "netflow v9" : "netflow v5"; }

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt("\\u%04x", ch);
      continue;
    }
    out += ch;
  }
  return out + "\"";
}

std::string flow_line(std::size_t n, const FlowRecord& r, TimeUs now) {
  const FlowKey& k = r.key;
  return fmt("%zu %u,%u %u %s,%u %s,%u %u,%u %" PRIu64 " %" PRIu64 " %.3f,%.3f\n", n, k.in_ifindex, r.out_ifindex,
             k.protocol, format_address(k.family, k.src.data()).c_str(), k.src_port,
             format_address(k.family, k.dst.data()).c_str(), k.dst_port, k.tos, r.tcp_flags, r.packets, r.bytes,
             static_cast<double>(now - r.first) / 1e6, static_cast<double>(now - r.last) / 1e6);
}

std::string flow_json(const FlowRecord& r) {
  const FlowKey& k = r.key;
  return fmt(
      "{\"in\":%u,\"out\":%u,\"proto\":%u,\"src\":%s,\"sport\":%u,\"dst\":%s,\"dport\":%u,\"tos\":%u,"
      "\"tcp_flags\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"first_us\":%" PRId64 ",\"last_us\":%" PRId64
      "}",
      k.in_ifindex, r.out_ifindex, k.protocol, json_string(format_address(k.family, k.src.data())).c_str(), k.src_port,
      json_string(format_address(k.family, k.dst.data())).c_str(), k.dst_port, k.tos, r.tcp_flags, r.packets, r.bytes,
      r.first, r.last);
}

}  // namespace

std::string format_stat_text(const LiveSnapshot& s) {
  const Totals t = totals_of(s);
  const Config& c = s.config;
  std::string out =
      fmt("%s, protocol %d (%s)", c.observation_domain_name.c_str(), c.protocol, protocol_name(c.protocol));
  if (c.protocol != 5) {
    out += fmt(", refresh-rate %u, timeout-rate %u, (templates %llu)", c.refresh_rate, c.timeout_rate,
               static_cast<u64>(s.exporter.encoder.templates));
  }
  out += ".\n";
  out += fmt("Timeouts: active %us, inactive %us. Maxflows %llu\n", c.active_timeout, c.inactive_timeout,
             static_cast<u64>(c.maxflows));
  const SamplerConfig& sm = c.sampler;
  const ExporterSnapshot& ex = s.exporter;
  if (sm.mode == SamplerMode::none) {
    out += "Flow sampling is disabled.\n";
  } else if (sm.mode == SamplerMode::hash) {
    std::uint64_t out_pkts = 0;
    for (const auto& cp : s.captures) out_pkts += cp.sampled_out;
    out += fmt("Flow sampling mode hash one-out-of %u. Pkts selected %llu, discarded %llu.\n", sm.interval,
               static_cast<u64>(t.cache.packets), static_cast<u64>(out_pkts));
  } else {
    out +=
        fmt("Flow sampling mode %s one-out-of %u. Flows selected %llu, discarded %llu. Pkts selected %llu, "
            "discarded %llu.\n",
            sm.mode == SamplerMode::deterministic ? "deterministic" : "random", sm.interval,
            static_cast<u64>(ex.sampler_flows_selected),
            static_cast<u64>(ex.sampler_flows_observed - ex.sampler_flows_selected),
            static_cast<u64>(ex.sampler_packets_selected),
            static_cast<u64>(ex.sampler_packets_observed - ex.sampler_packets_selected));
  }
  // Upstream's line, then what netflowd adds: what it skipped and what the kernel dropped.
  const NatEventCounters& nat = ex.nat;
  // Enabled only while events are read: natevents=1 whose socket could not be opened is not.
  out += fmt("Natevents %s, count start %llu, stop %llu.\n", ex.nat_active ? "enabled" : "disabled",
             static_cast<u64>(nat.creates), static_cast<u64>(nat.destroys));
  if (ex.nat_active || nat.not_nat + nat.malformed + nat.overruns != 0) {
    out += fmt("Natevents skipped: not NAT %llu, malformed %llu; lost: overruns %llu.\n", static_cast<u64>(nat.not_nat),
               static_cast<u64>(nat.malformed), static_cast<u64>(nat.overruns));
  }
  out += fmt("Flows: active %llu (peak %llu), mem %lluK, uptime %.0fs.\n", static_cast<u64>(t.active),
             static_cast<u64>(t.cache.peak_flows), static_cast<u64>(t.memory / 1024),
             static_cast<double>(s.taken - s.started) / 1e6);
  const Rates& r = s.rates;
  out += fmt("Hash: size %llu, metric %.2f [%.2f, %.2f, %.2f]. InHash: %llu pkt, %llu K.\n", static_cast<u64>(t.slots),
             hash_metric(t.cache), r.metric_1m, r.metric_5m, r.metric_15m, static_cast<u64>(t.cache.packets),
             static_cast<u64>(t.cache.bytes / 1024));
  out += fmt("Rate: %.0f bits/sec, %.0f packets/sec; Avg 1 min: %.0f bps, %.0f pps; 5 min: %.0f bps, %.0f pps\n",
             r.in_bps, r.in_pps, r.in_bps_1m, r.in_pps_1m, r.in_bps_5m, r.in_pps_5m);
  out += "worker#  <search found new [metric], malformed alloc maxflows>, traffic: <pkt, bytes>, drop: <pkt, bytes>\n";
  auto cache_line = [&](const std::string& label, const FlowCacheStats& fc, std::uint64_t malformed) {
    return fmt("%-8s %llu %llu %llu [%.2f], %llu %llu %llu, traffic: %llu, %llu MB, drop: %llu, %llu K\n",
               label.c_str(), static_cast<u64>(fc.probes), static_cast<u64>(fc.lookups_found),
               static_cast<u64>(fc.flows_created), hash_metric(fc), static_cast<u64>(malformed),
               static_cast<u64>(fc.alloc_dropped_packets), static_cast<u64>(fc.maxflows_dropped_packets),
               static_cast<u64>(fc.packets), static_cast<u64>(fc.bytes >> 20),
               static_cast<u64>(fc.maxflows_dropped_packets + fc.alloc_dropped_packets),
               static_cast<u64>((fc.maxflows_dropped_bytes + fc.alloc_dropped_bytes) >> 10));
  };
  out += cache_line("Total", t.cache, t.malformed);
  for (std::size_t i = 0; i < s.workers.size(); ++i) out += cache_line(fmt("worker%zu", i), s.workers[i].cache, 0);
  const ExportTotals& x = s.exporter.transport;
  out +=
      fmt("Export: Rate %.0f bytes/s; Total %llu pkts, %llu MB, %llu flows; Errors %llu pkts; Traffic lost %llu pkts, "
          "%llu Kbytes, %llu flows.\n",
          r.out_bytes_per_s, static_cast<u64>(x.delivered), static_cast<u64>(x.delivered_bytes >> 20),
          static_cast<u64>(x.flow_records), static_cast<u64>(x.lost_datagrams), static_cast<u64>(x.lost_packets),
          static_cast<u64>(x.lost_bytes >> 10), static_cast<u64>(x.lost_flows));
  for (std::size_t i = 0; i < s.exporter.destinations.size(); ++i) {
    const auto& d = s.exporter.destinations[i];
    if (d.stats.connected) {
      out += fmt("sock%zu: %s, sndbuf %d; sent %llu; err: sndbuf reached %llu, connect %llu, cberr %llu, other %llu\n",
                 i, d.destination.c_str(), d.stats.sndbuf, static_cast<u64>(d.stats.sent_datagrams),
                 static_cast<u64>(d.stats.err_sndbuf), static_cast<u64>(d.stats.err_connect),
                 static_cast<u64>(d.stats.err_cberr), static_cast<u64>(d.stats.err_other));
    } else {
      out += fmt("sock%zu: %s unconnected (%llu attempts).\n", i, d.destination.c_str(),
                 static_cast<u64>(d.stats.err_connect));
    }
  }
  for (std::size_t i = 0; i < s.captures.size(); ++i) {
    const auto& cp = s.captures[i];
    out += fmt(
        "source%zu: %s: frames %llu, not IP %llu, malformed %llu, kernel drops %llu (overruns %llu), queue "
        "drops %llu, own export %llu, handed on %llu\n",
        i, cp.name.c_str(), static_cast<u64>(cp.frames), static_cast<u64>(cp.parse[ParseStatus::non_ip]),
        static_cast<u64>(cp.parse.malformed()), static_cast<u64>(cp.source_drops), static_cast<u64>(cp.source_overruns),
        static_cast<u64>(cp.queue_drops), static_cast<u64>(cp.own_export), static_cast<u64>(cp.handed_on));
  }
  if (const auto& rules = s.config.aggregation_rules) {
    const std::vector<std::string> lines = rules->describe();
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::uint64_t usage = 0;
      for (const auto& cp : s.captures) usage += i < cp.aggregation_usage.size() ? cp.aggregation_usage[i] : 0;
      out += fmt("aggr#%zu %s (usage %llu)\n", i, lines[i].c_str(), static_cast<u64>(usage));
    }
  }
  out +=
      fmt("Accounting: observed %llu = metered %llu + dropped %llu (not IP %llu, malformed %llu, maxflows %llu, "
          "alloc %llu, queue %llu) + own export %llu + sampled out %llu\n",
          static_cast<u64>(t.frames), static_cast<u64>(t.cache.packets), static_cast<u64>(t.dropped()),
          static_cast<u64>(t.non_ip), static_cast<u64>(t.malformed), static_cast<u64>(t.cache.maxflows_dropped_packets),
          static_cast<u64>(t.cache.alloc_dropped_packets), static_cast<u64>(t.queue_drops),
          static_cast<u64>(t.own_export), static_cast<u64>(t.sampled_out));
  return out;
}

std::string format_stat_snmp(const LiveSnapshot& s) {
  const Totals t = totals_of(s);
  const ExportTotals& x = s.exporter.transport;
  std::string out;
  auto line = [&out](const char* name, u64 v) { out += fmt("%-16s %llu\n", name, v); };
  line("inBitRate", static_cast<u64>(s.rates.in_bps));
  line("inPacketRate", static_cast<u64>(s.rates.in_pps));
  line("inFlows", t.cache.flows_created);
  line("inPackets", t.cache.packets);
  line("inBytes", t.cache.bytes);
  out += fmt("%-16s %.2f\n", "hashMetric", hash_metric(t.cache));
  line("hashMemory", t.memory);
  line("hashFlows", t.active);
  line("hashPackets", t.cache.packets);
  line("hashBytes", t.cache.bytes);
  line("dropPackets", t.dropped());
  line("dropBytes", t.dropped_bytes());
  line("outByteRate", static_cast<u64>(s.rates.out_bytes_per_s));
  line("outFlows", x.flow_records);
  line("outPackets", x.delivered);
  line("outBytes", x.delivered_bytes);
  line("lostFlows", x.lost_flows);
  line("lostPackets", x.lost_packets);
  line("lostBytes", x.lost_bytes);
  u64 errors = 0;
  for (const auto& d : s.exporter.destinations) errors += d.stats.err_sndbuf + d.stats.err_cberr + d.stats.err_other;
  line("errTotal", errors);
  for (std::size_t i = 0; i < s.workers.size(); ++i) {
    const auto& w = s.workers[i].cache;
    // worker<i> flows packets bytes metric drop-packets drop-bytes maxflows alloc
    out += fmt("worker%zu %llu %llu %llu %.2f %llu %llu %llu %llu\n", i, static_cast<u64>(w.flows_created),
               static_cast<u64>(w.packets), static_cast<u64>(w.bytes), hash_metric(w),
               static_cast<u64>(w.maxflows_dropped_packets + w.alloc_dropped_packets),
               static_cast<u64>(w.maxflows_dropped_bytes + w.alloc_dropped_bytes),
               static_cast<u64>(w.maxflows_dropped_packets), static_cast<u64>(w.alloc_dropped_packets));
  }
  for (std::size_t i = 0; i < s.exporter.destinations.size(); ++i) {
    const auto& d = s.exporter.destinations[i];
    out += fmt("sock%zu %s %d %llu %llu %llu %llu %d\n", i, d.destination.c_str(), d.stats.connected ? 1 : 0,
               static_cast<u64>(d.stats.err_connect), static_cast<u64>(d.stats.err_sndbuf),
               static_cast<u64>(d.stats.err_cberr), static_cast<u64>(d.stats.err_other), d.stats.sndbuf);
  }
  return out;
}

std::string format_stat_json(const LiveSnapshot& s) {
  const Totals t = totals_of(s);
  const ExportTotals& x = s.exporter.transport;
  std::string out = "{";
  out += fmt("\"protocol\":%d,\"active_timeout\":%u,\"inactive_timeout\":%u,\"maxflows\":%llu,", s.config.protocol,
             s.config.active_timeout, s.config.inactive_timeout, static_cast<u64>(s.config.maxflows));
  out +=
      fmt("\"uptime_s\":%.3f,\"flows_active\":%llu,\"flows_created\":%llu,\"memory_bytes\":%llu,"
          "\"hash_metric\":%.4f,",
          static_cast<double>(s.taken - s.started) / 1e6, static_cast<u64>(t.active),
          static_cast<u64>(t.cache.flows_created), static_cast<u64>(t.memory), hash_metric(t.cache));
  out +=
      fmt("\"observed\":%llu,\"metered_packets\":%llu,\"metered_bytes\":%llu,\"non_ip\":%llu,\"malformed\":%llu,"
          "\"maxflows_dropped\":%llu,\"alloc_dropped\":%llu,\"queue_drops\":%llu,\"source_drops\":%llu,"
          "\"own_export\":%llu,\"sampled_out\":%llu,\"sampler\":%s,\"sampler_flows_observed\":%llu,"
          "\"sampler_flows_selected\":%llu,",
          static_cast<u64>(t.frames), static_cast<u64>(t.cache.packets), static_cast<u64>(t.cache.bytes),
          static_cast<u64>(t.non_ip), static_cast<u64>(t.malformed), static_cast<u64>(t.cache.maxflows_dropped_packets),
          static_cast<u64>(t.cache.alloc_dropped_packets), static_cast<u64>(t.queue_drops),
          static_cast<u64>(t.source_drops), static_cast<u64>(t.own_export), static_cast<u64>(t.sampled_out),
          json_string(s.config.sampler.to_string()).c_str(), static_cast<u64>(s.exporter.sampler_flows_observed),
          static_cast<u64>(s.exporter.sampler_flows_selected));
  out +=
      fmt("\"export\":{\"records\":%llu,\"datagrams\":%llu,\"options_records\":%llu,\"templates\":%llu,"
          "\"delivered\":%llu,\"delivered_bytes\":%llu,\"lost_datagrams\":%llu,\"lost_flows\":%llu,"
          "\"not_exportable_flows\":%llu},",
          static_cast<u64>(s.exporter.encoder.records), static_cast<u64>(s.exporter.encoder.datagrams),
          static_cast<u64>(s.exporter.encoder.options_records), static_cast<u64>(s.exporter.encoder.templates),
          static_cast<u64>(x.delivered), static_cast<u64>(x.delivered_bytes), static_cast<u64>(x.lost_datagrams),
          static_cast<u64>(x.lost_flows), static_cast<u64>(s.exporter.encoder.not_exportable_flows));
  const NatEventCounters& nat = s.exporter.nat;
  out +=
      fmt("\"natevents\":{\"enabled\":%s,\"start\":%llu,\"stop\":%llu,\"not_nat\":%llu,\"malformed\":%llu,"
          "\"overruns\":%llu,\"exported\":%llu},",
          s.exporter.nat_active ? "true" : "false", static_cast<u64>(nat.creates), static_cast<u64>(nat.destroys),
          static_cast<u64>(nat.not_nat), static_cast<u64>(nat.malformed), static_cast<u64>(nat.overruns),
          static_cast<u64>(s.exporter.encoder.nat_events));
  const Rates& r = s.rates;
  out +=
      fmt("\"rates\":{\"measured\":%s,\"in_pps\":%.1f,\"in_bps\":%.1f,\"out_bytes_per_s\":%.1f,\"in_pps_1m\":%.1f,"
          "\"in_bps_1m\":%.1f,\"in_pps_5m\":%.1f,\"in_bps_5m\":%.1f,\"hash_metric\":%.4f,\"hash_metric_1m\":%.4f,"
          "\"hash_metric_5m\":%.4f,\"hash_metric_15m\":%.4f},",
          r.measured ? "true" : "false", r.in_pps, r.in_bps, r.out_bytes_per_s, r.in_pps_1m, r.in_bps_1m, r.in_pps_5m,
          r.in_bps_5m, r.metric, r.metric_1m, r.metric_5m, r.metric_15m);
  out += "\"destinations\":[";
  for (std::size_t i = 0; i < s.exporter.destinations.size(); ++i) {
    const auto& d = s.exporter.destinations[i];
    out += fmt(
        "%s{\"destination\":%s,\"connected\":%s,\"sent\":%llu,\"err_sndbuf\":%llu,\"err_connect\":%llu,"
        "\"err_cberr\":%llu,\"err_other\":%llu,\"sndbuf\":%d,\"gso\":%s,\"gso_sends\":%llu}",
        i ? "," : "", json_string(d.destination).c_str(), d.stats.connected ? "true" : "false",
        static_cast<u64>(d.stats.sent_datagrams), static_cast<u64>(d.stats.err_sndbuf),
        static_cast<u64>(d.stats.err_connect), static_cast<u64>(d.stats.err_cberr), static_cast<u64>(d.stats.err_other),
        d.stats.sndbuf, d.stats.segmentation ? "true" : "false", static_cast<u64>(d.stats.batched_sends));
  }
  out += "],\"sources\":[";
  for (std::size_t i = 0; i < s.captures.size(); ++i) {
    const auto& c = s.captures[i];
    out +=
        fmt("%s{\"name\":%s,\"frames\":%llu,\"non_ip\":%llu,\"malformed\":%llu,\"source_drops\":%llu,"
            "\"source_overruns\":%llu,\"queue_drops\":%llu,\"own_export\":%llu,\"handed_on\":%llu}",
            i ? "," : "", json_string(c.name).c_str(), static_cast<u64>(c.frames),
            static_cast<u64>(c.parse[ParseStatus::non_ip]), static_cast<u64>(c.parse.malformed()),
            static_cast<u64>(c.source_drops), static_cast<u64>(c.source_overruns), static_cast<u64>(c.queue_drops),
            static_cast<u64>(c.own_export), static_cast<u64>(c.handed_on));
  }
  out += "],\"workers\":[";
  for (std::size_t i = 0; i < s.workers.size(); ++i) {
    const auto& w = s.workers[i];
    out +=
        fmt("%s{\"flows_active\":%llu,\"flows_created\":%llu,\"packets\":%llu,\"bytes\":%llu,\"maxflows_dropped\":"
            "%llu,\"alloc_dropped\":%llu,\"hash_slots\":%llu}",
            i ? "," : "", static_cast<u64>(w.active_flows), static_cast<u64>(w.cache.flows_created),
            static_cast<u64>(w.cache.packets), static_cast<u64>(w.cache.bytes),
            static_cast<u64>(w.cache.maxflows_dropped_packets), static_cast<u64>(w.cache.alloc_dropped_packets),
            static_cast<u64>(w.index_slots));
  }
  out += "]}\n";
  return out;
}

std::string handle_control_request(LiveControl& control, const std::string& request) {
  const std::vector<std::string> w = words(request);
  if (w.empty()) return "ERROR empty request\n";
  const std::string& cmd = w[0];
  const std::string opt = w.size() > 1 ? w[1] : "";
  if ((cmd == "stat" && !opt.empty() && opt != "--json" && opt != "--snmp") ||
      (cmd == "flows" && !opt.empty() && opt != "--json") || ((cmd == "stat" || cmd == "flows") && w.size() > 2)) {
    return "ERROR usage: stat [--json|--snmp], flows [--json]\n";
  }
  try {
    if (cmd == "get") {
      const Config c = control.config();
      if (w.size() > 1) {
        std::string out = "OK\n";
        for (std::size_t i = 1; i < w.size(); ++i) out += get_parameter(c, w[i]) + "\n";
        return out;
      }
      std::string out = "OK\n";
      for (const ParameterSpec& p : parameter_table()) {
        if (p.get != nullptr) out += std::string(p.name) + "=" + p.get(c) + "\n";
      }
      return out;
    }
    if (cmd == "set") {
      if (w.size() < 2) return "ERROR usage: set NAME=VALUE [NAME=VALUE...]\n";
      const std::string error = control.set(std::vector<std::string>(w.begin() + 1, w.end()));
      return error.empty() ? "OK\n" : "ERROR " + error + "\n";
    }
    if (cmd == "stat") {
      const LiveSnapshot s = control.snapshot();
      if (opt == "--json") return "OK\n" + format_stat_json(s);
      if (opt == "--snmp") return "OK\n" + format_stat_snmp(s);
      return "OK\n" + format_stat_text(s);
    }
    if (cmd == "flows") {
      const std::vector<FlowRecord> flows = control.dump_flows(std::chrono::milliseconds(3000));
      const TimeUs now = control.snapshot().taken;
      std::string out = "OK\n";
      if (opt == "--json") {
        out += "[";
        for (std::size_t i = 0; i < flows.size(); ++i) out += (i ? ",\n" : "\n") + flow_json(flows[i]);
        return out + "\n]\n";
      }
      out += "# n in,out proto src,sport dst,dport tos,tcpflags packets bytes age_first,age_last(s)\n";
      for (std::size_t i = 0; i < flows.size(); ++i) out += flow_line(i + 1, flows[i], now);
      return out;
    }
  } catch (const std::exception& e) {
    return std::string("ERROR ") + e.what() + "\n";
  }
  return "ERROR unknown request '" + cmd + "' (get, set, stat, flows)\n";
}

}  // namespace netflowd
