#include "traffic.hpp"

#include "flow_factory.hpp"
#include "ip_builder.hpp"
#include "link_layer.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace nfgen {

namespace {

// Shape of the capture; chosen so that with inactive_timeout=15 and
// active_timeout=60 most flows are exported as several records.
constexpr std::uint64_t target_duration_us = 360ULL * 1000000;  // ~6 minutes whatever the packet count
constexpr std::uint32_t heavy_slots = 64;                       // busy long-lived flows, cut by the active timeout
constexpr std::uint32_t heavy_pick_per_mille = 120;
constexpr std::uint32_t non_ip_per_mille = 3;
constexpr std::uint32_t malformed_per_mille = 3;

class Clock {
 public:
  Clock(std::uint64_t start_us, std::uint64_t packets)
      : now_us_(start_us),
        mean_gap_us_(std::max<std::uint64_t>(1, target_duration_us / std::max<std::uint64_t>(1, packets))) {}
  // Starts at the start time, then strictly increasing with uniform gaps
  // averaging mean_gap_us_ between datagrams.
  std::uint64_t next_datagram(Rng& rng) {
    if (started_) now_us_ += 1 + rng.below(static_cast<std::uint32_t>(2 * mean_gap_us_ - 1));
    started_ = true;
    return now_us_;
  }
  // Fragments of one datagram follow each other closely.
  std::uint64_t next_fragment(Rng& rng) {
    now_us_ += rng.range(1, 20);
    return now_us_;
  }

 private:
  std::uint64_t now_us_;
  std::uint64_t mean_gap_us_;
  bool started_ = false;
};

std::uint16_t ethertype_of(const Flow& f) { return f.family == 4 ? ethertype::ipv4 : ethertype::ipv6; }

// Optional per-frame labels ("1234,skip:ipv6_cut_header", "1235,ip:6:17:frag")
// so that tshark's view of a frame can be matched with what was intended.
class LabelFile {
 public:
  explicit LabelFile(const std::string& path) {
    if (!path.empty() && (file_ = std::fopen(path.c_str(), "w")) == nullptr)
      throw std::runtime_error("cannot create " + path);
  }
  ~LabelFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  LabelFile(const LabelFile&) = delete;
  LabelFile& operator=(const LabelFile&) = delete;

  void skipped(std::uint64_t frame, SkipKind kind) {
    if (file_ != nullptr)
      std::fprintf(file_, "%llu,skip:%s\n", static_cast<unsigned long long>(frame),
                   std::string(skip_kind_names[static_cast<std::size_t>(kind)]).c_str());
  }
  void counted(std::uint64_t frame, const FlowKey& key, bool fragment) {
    if (file_ != nullptr)
      std::fprintf(file_, "%llu,ip:%u:%u%s\n", static_cast<unsigned long long>(frame), unsigned{key.family},
                   unsigned{key.proto}, fragment ? ":frag" : "");
  }

 private:
  std::FILE* file_ = nullptr;
};

}  // namespace

TrafficSummary generate_traffic(const TrafficOptions& opts, PcapWriter& pcap, ExpectedFlows& expected) {
  Rng rng(opts.seed);
  const PayloadPool pool(rng);
  IpBuilder ip(rng, pool);
  const FlowFactoryOptions factory{.allow_vlan = opts.link != LinkType::raw};
  Clock clock(opts.start_time_s * 1000000, opts.packets);

  std::vector<Flow> slots(opts.flows);  // packets_left == 0: free, refilled on next pick
  const std::uint32_t heavy = std::min(heavy_slots, opts.flows);
  std::vector<L3Packet> datagram;
  SkippedFrame skipped;
  Bytes frame;
  TrafficSummary sum;
  LabelFile labels(opts.labels_path);

  while (sum.packets < opts.packets) {
    const std::uint64_t ts = clock.next_datagram(rng);
    if (sum.packets == 0) sum.first_ts_us = ts;
    const std::uint32_t r = rng.below(1000);
    const bool non_ip = r < non_ip_per_mille && opts.link != LinkType::raw;
    if (non_ip || (r >= non_ip_per_mille && r < non_ip_per_mille + malformed_per_mille)) {
      make_skipped_frame(rng, pool, opts.link, non_ip, skipped);
      build_frame(opts.link, skipped.l2, skipped.ethertype, skipped.l3, FrameOptions{.pad = skipped.pad}, frame);
      pcap.write(ts, frame);
      ++(non_ip ? sum.non_ip : sum.malformed);
      ++sum.skipped_by_kind[static_cast<std::size_t>(skipped.kind)];
      labels.skipped(sum.packets + 1, skipped.kind);
      ++sum.packets;
      sum.last_ts_us = ts;
      continue;
    }

    const std::uint32_t slot = rng.chance(heavy_pick_per_mille) ? rng.below(heavy) : rng.below(opts.flows);
    Flow& flow = slots[slot];
    if (flow.packets_left == 0) {
      flow = make_flow(rng, factory, slot < heavy);
      ++sum.generated_flows;
    }
    const std::size_t n = ip.next_datagram(flow, opts.packets - sum.packets, datagram);
    --flow.packets_left;
    for (std::size_t i = 0; i < n; ++i) {
      const L3Packet& p = datagram[i];
      const std::uint64_t when = i == 0 ? ts : clock.next_fragment(rng);
      build_frame(opts.link, flow.l2, ethertype_of(flow), p.bytes, FrameOptions{}, frame);
      pcap.write(when, frame);
      expected.add(p.key, p.accounted_bytes);
      labels.counted(sum.packets + i + 1, p.key, p.fragment);
      sum.last_ts_us = when;
    }
    sum.counted += n;
    sum.packets += n;
  }
  return sum;
}

}  // namespace nfgen
