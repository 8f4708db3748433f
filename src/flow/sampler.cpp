#include "flow/sampler.hpp"

#include <cctype>
#include <charconv>

#include "common/error.hpp"

namespace netflowd {

SamplerConfig SamplerConfig::parse(std::string_view text) {
  SamplerConfig c;
  if (text.empty()) return c;
  const char first = static_cast<char>(std::tolower(static_cast<unsigned char>(text.front())));
  if (first == 'n' || first == 'o' || first == '0') return c;
  if (first == 'd') {
    c.mode = SamplerMode::deterministic;
  } else if (first == 'r') {
    c.mode = SamplerMode::random;
  } else if (first == 'h') {
    c.mode = SamplerMode::hash;
  } else {
    throw ParameterError("sampler", "'" + std::string(text) + "': mode must be deterministic, random or hash");
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    throw ParameterError("sampler", "'" + std::string(text) + "': expected mode:N, e.g. random:100");
  }
  const std::string_view n = text.substr(colon + 1);
  unsigned v = 0;
  const auto [ptr, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
  if (n.empty() || ec != std::errc{} || ptr != n.data() + n.size() || v < 2 || v > 16383) {
    throw ParameterError("sampler", "'" + std::string(text) + "': N must be a number 2..16383");
  }
  c.interval = v;
  return c;
}

std::string SamplerConfig::to_string() const {
  switch (mode) {
    case SamplerMode::deterministic: return "deterministic:" + std::to_string(interval);
    case SamplerMode::random: return "random:" + std::to_string(interval);
    case SamplerMode::hash: return "hash:" + std::to_string(interval);
    case SamplerMode::none: break;
  }
  return "";
}

std::uint16_t SamplerConfig::v5_field() const {
  if (mode == SamplerMode::none) return 0;
  return static_cast<std::uint16_t>((signalled_mode() << 14) | (interval & 0x3fff));
}

}  // namespace netflowd
