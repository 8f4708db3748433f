// nfgen: deterministic synthetic capture + the per-flow totals a correct
// NetFlow v5 meter must report for it. See README.md in this directory.
#include "expected_flows.hpp"
#include "options.hpp"
#include "pcap_writer.hpp"
#include "traffic.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  using namespace nfgen;
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::fputs(usage_text, stdout);
    return 0;
  }
  std::string error;
  const auto opts = parse_options(argc, argv, error);
  if (!opts) {
    std::fprintf(stderr, "nfgen: %s\n%s", error.c_str(), usage_text);
    return 2;
  }
  try {
    PcapWriter pcap(opts->out_path, pcap_linktype(opts->traffic.link));
    ExpectedFlows expected;
    const TrafficSummary s = generate_traffic(opts->traffic, pcap, expected);
    pcap.close();
    expected.write_csv(opts->expected_path);

    std::printf("packets=%llu counted=%llu non_ip=%llu malformed=%llu flows=%zu\n",
                static_cast<unsigned long long>(s.packets), static_cast<unsigned long long>(s.counted),
                static_cast<unsigned long long>(s.non_ip), static_cast<unsigned long long>(s.malformed),
                expected.size());
    // Second line: details for humans and for tests that want them.
    std::printf("generated_flows=%llu first_ts_us=%llu last_ts_us=%llu",
                static_cast<unsigned long long>(s.generated_flows), static_cast<unsigned long long>(s.first_ts_us),
                static_cast<unsigned long long>(s.last_ts_us));
    for (std::size_t k = 0; k < skip_kind_count; ++k)
      std::printf(" skip_%s=%llu", std::string(skip_kind_names[k]).c_str(),
                  static_cast<unsigned long long>(s.skipped_by_kind[k]));
    std::printf("\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nfgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
