#include "options.hpp"

#include <charconv>
#include <string_view>

namespace nfgen {

namespace {

bool parse_u64(std::string_view text, std::uint64_t& value) {
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc{} && ptr == end && !text.empty();
}

std::optional<LinkType> parse_linktype(std::string_view text) {
  if (text == "en10mb") return LinkType::en10mb;
  if (text == "sll") return LinkType::sll;
  if (text == "sll2") return LinkType::sll2;
  if (text == "raw") return LinkType::raw;
  return std::nullopt;
}

}  // namespace

std::optional<CliOptions> parse_options(int argc, char** argv, std::string& error) {
  CliOptions o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (i + 1 >= argc) {
      error = "missing value for " + std::string(name);
      return std::nullopt;
    }
    const std::string_view value = argv[++i];
    std::uint64_t number = 0;
    const bool numeric = parse_u64(value, number);
    if (name == "--out") {
      o.out_path = value;
    } else if (name == "--expected") {
      o.expected_path = value;
    } else if (name == "--labels") {
      o.traffic.labels_path = value;
    } else if (name == "--packets" && numeric) {
      o.traffic.packets = number;
    } else if (name == "--flows" && numeric && number >= 1 && number <= 100000000) {
      o.traffic.flows = static_cast<std::uint32_t>(number);
    } else if (name == "--seed" && numeric) {
      o.traffic.seed = number;
    } else if (name == "--start-time" && numeric && number <= 0xFFFFFFFFULL) {
      o.traffic.start_time_s = number;
    } else if (name == "--linktype" && parse_linktype(value)) {
      o.traffic.link = *parse_linktype(value);
    } else {
      error = "bad option or value: " + std::string(name) + " " + std::string(value);
      return std::nullopt;
    }
  }
  if (o.out_path.empty() || o.expected_path.empty()) {
    error = "--out and --expected are required";
    return std::nullopt;
  }
  return o;
}

}  // namespace nfgen
