// Command line of nfgen.
#pragma once

#include "traffic.hpp"

#include <optional>
#include <string>

namespace nfgen {

struct CliOptions {
  std::string out_path;
  std::string expected_path;
  TrafficOptions traffic;
};

inline constexpr const char* usage_text =
    "usage: nfgen --out FILE.pcap --expected FILE.csv [--packets N (1000000)] [--flows F (100000)]\n"
    "             [--seed S (1)] [--linktype en10mb|sll|sll2|raw] [--start-time UNIXSECONDS (1700000000)]\n"
    "             [--labels FILE.csv (debug: frame number and kind of every frame)]\n";

// Returns nullopt and fills error on bad input.
std::optional<CliOptions> parse_options(int argc, char** argv, std::string& error);

}  // namespace nfgen
